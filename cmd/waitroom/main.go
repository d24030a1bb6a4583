// Command waitroom runs the virtual waiting room: one port serving gRPC,
// gRPC-Web and the Connect protocol, configured from the environment.
//
//	go run ./cmd/waitroom            # embedded store, port 50056
//	REDIS_ADDR=localhost:6379 go run ./cmd/waitroom
//	go run ./cmd/waitroom keygen     # print a new Ed25519 signing key (PEM)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/token"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "waitroom:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "keygen":
			return keygen(stdout)
		case "help", "-h", "-help", "--help":
			fmt.Fprintln(stdout, "usage: waitroom [keygen]\n\nConfiguration comes from the environment; see README.md.")
			return nil
		}
		return fmt.Errorf("unknown command %q (want no arguments, or keygen)", args[0])
	}
	cfg, err := server.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Logger = cfg.Log.NewLogger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// keygen prints a new signing key for WAITROOM_SIGNING_KEY(_FILE).
func keygen(w io.Writer) error {
	key, err := token.GenerateKey()
	if err != nil {
		return err
	}
	pem, err := token.EncodePrivateKeyPEM(key)
	if err != nil {
		return err
	}
	_, err = w.Write(pem)
	return err
}
