package wire

import (
	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// FairStart is a pre-queue session's fair start as streams and status
// calls show it; nil for a session outside any pre-queue.
func FairStart(i *queue.FairStartInfo) *waitroomv1.FairStart {
	if i == nil {
		return nil
	}
	return &waitroomv1.FairStart{
		SaleStartsAt:   optionalTimestamp(i.SaleStartsAt),
		SeedCommitment: i.SeedCommitment,
		Placed:         i.Seed != "",
		Seed:           i.Seed,
	}
}

// eventFairStart fills in an event's fair start as the admin API shows it:
// the seed only once placed.
func eventFairStart(p *waitroomv1.Event, f queue.FairStart) {
	i := f.Info()
	if i == nil {
		return
	}
	p.SaleStartsAt = optionalTimestamp(i.SaleStartsAt)
	p.SeedCommitment = i.SeedCommitment
	p.Seed = i.Seed
	p.PlacedAt = optionalTimestamp(i.PlacedAt)
	p.PreQueuePlaced = clamp32(i.Placed)
}

// fairStartFromProto reads sale_starts_at given to PutEvent.
func fairStartFromProto(p *waitroomv1.Event) (queue.FairStart, error) {
	ts := p.GetSaleStartsAt()
	if ts == nil {
		return queue.FairStart{}, nil
	}
	if err := ts.CheckValid(); err != nil || ts.AsTime().IsZero() {
		return queue.FairStart{}, &queue.InvalidArgumentError{Field: "event.sale_starts_at", Reason: "not a valid time"}
	}
	return queue.FairStart{SaleStartsAt: ts.AsTime()}, nil
}

// PreQueue is a placed pre-queue as ListPreQueue answers it.
func PreQueue(f queue.FairStart, ids []string) *waitroomv1.ListPreQueueResponse {
	return &waitroomv1.ListPreQueueResponse{
		SessionIds:     ids,
		Seed:           f.Seed,
		SeedCommitment: f.Commitment(),
		SaleStartsAt:   optionalTimestamp(f.SaleStartsAt),
		PlacedAt:       optionalTimestamp(f.PlacedAt),
	}
}
