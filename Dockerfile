# For users with Docker; the tests never need it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /waitroom ./cmd/waitroom

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /waitroom /waitroom
EXPOSE 50056
ENTRYPOINT ["/waitroom"]
