// Package verifyshuffle is `waitroom verify-shuffle`: it recomputes a fair
// start's order from the revealed seed and the pre-queue's session ids (the
// ids sorted by HMAC-SHA256(seed, session_id), queue.FairOrder), prints it,
// and checks a claimed order against it.
package verifyshuffle

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/queue"
)

// Usage is the command's help.
const Usage = `usage: waitroom verify-shuffle [flags]

Recomputes a fair start's order: the pre-queue's session ids sorted by
HMAC-SHA256(seed, session_id), smallest first. Prints it (position, tab,
session id), and exits non-zero when a claimed order differs from it or the
seed does not match its commitment.

  -seed HEX          the revealed seed (lowercase hex, 32 bytes)
  -commitment HEX    the SHA-256 of the seed published before the start: checked
  -ids FILE          the pre-queue's session ids, one a line, any order ("-": stdin)
  -order FILE        a claimed order to check, one id a line ("-": stdin)
  -server URL        fetch seed, commitment and the placed order from a running
  -event ID          server's admin API (ListPreQueue; WAITROOM_ADMIN_TOKEN): the
                     placed order is then checked, against -ids' set too if given
  -quiet             print nothing but the verdict

With neither -ids nor -server, the ids are read from stdin.`

// ErrMismatch says the order, or the seed, did not verify.
var ErrMismatch = errors.New("verify-shuffle: mismatch")

// Env is what the command reads from its surroundings.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Getenv func(string) string
	// HTTP is the client for -server; nil takes one that speaks HTTP/1.1
	// and h2c.
	HTTP *http.Client
}

type options struct {
	seed, commitment, ids, order, server, event string
	quiet                                       bool
}

// Run runs the command with args (after "verify-shuffle"). It returns
// ErrMismatch (wrapped, with what differs) when verification fails.
func Run(ctx context.Context, args []string, env Env) error {
	var o options
	fs := flag.NewFlagSet("verify-shuffle", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.seed, "seed", "", "")
	fs.StringVar(&o.commitment, "commitment", "", "")
	fs.StringVar(&o.ids, "ids", "", "")
	fs.StringVar(&o.order, "order", "", "")
	fs.StringVar(&o.server, "server", "", "")
	fs.StringVar(&o.event, "event", "", "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n\n%s", err, Usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n\n%s", fs.Arg(0), Usage)
	}
	in, err := o.inputs(ctx, env)
	if err != nil {
		return err
	}
	return in.verify(env.Stdout, o.quiet)
}

// inputs is what is to be verified.
type inputs struct {
	seed       []byte
	commitment string // "" when none was given or fetched
	ids        []string
	claimed    []string // nil when no order is claimed
}

func (o options) inputs(ctx context.Context, env Env) (inputs, error) {
	var in inputs
	if o.server != "" {
		res, err := fetch(ctx, o.server, o.event, env)
		if err != nil {
			return in, err
		}
		if o.seed != "" && !strings.EqualFold(o.seed, res.GetSeed()) {
			return in, fmt.Errorf("%w: -seed %s, the server revealed %s", ErrMismatch, o.seed, res.GetSeed())
		}
		o.seed = res.GetSeed()
		if o.commitment == "" {
			in.commitment = res.GetSeedCommitment()
		} else if !strings.EqualFold(o.commitment, res.GetSeedCommitment()) {
			return in, fmt.Errorf("%w: -commitment %s, the server published %s", ErrMismatch, o.commitment, res.GetSeedCommitment())
		}
		in.ids, in.claimed = res.GetSessionIds(), res.GetSessionIds()
	}
	if o.commitment != "" {
		in.commitment = strings.ToLower(o.commitment)
	}
	if o.seed == "" {
		return in, fmt.Errorf("-seed or -server is required\n\n%s", Usage)
	}
	seed, err := hex.DecodeString(o.seed)
	if err != nil || len(seed) != queue.SeedSize {
		return in, fmt.Errorf("-seed: want %d bytes of hex", queue.SeedSize)
	}
	in.seed = seed
	if o.ids != "" || o.server == "" {
		given, err := readLines(o.ids, env.Stdin)
		if err != nil {
			return in, fmt.Errorf("-ids: %w", err)
		}
		if in.claimed != nil && !sameSet(given, in.claimed) {
			return in, fmt.Errorf("%w: the server's pre-queue is not the set of ids given", ErrMismatch)
		}
		in.ids = given
	}
	if o.order != "" {
		if in.claimed, err = readLines(o.order, env.Stdin); err != nil {
			return in, fmt.Errorf("-order: %w", err)
		}
	}
	return in, nil
}

func (in inputs) verify(w io.Writer, quiet bool) error {
	if in.commitment != "" {
		got := queue.SeedCommitment(in.seed)
		if subtle.ConstantTimeCompare([]byte(got), []byte(in.commitment)) != 1 {
			return fmt.Errorf("%w: SHA-256(seed) = %s, the commitment is %s", ErrMismatch, got, in.commitment)
		}
	}
	if dup := duplicate(in.ids); dup != "" {
		return fmt.Errorf("%w: session id %s is listed twice", ErrMismatch, dup)
	}
	order := queue.FairOrder(in.seed, in.ids)
	bw := bufio.NewWriter(w)
	if !quiet {
		for i, id := range order {
			fmt.Fprintf(bw, "%d\t%s\n", i+1, id)
		}
	}
	var err error
	switch {
	case in.claimed == nil:
		fmt.Fprintf(bw, "# %d sessions in the seed's order\n", len(order))
	case !slices.Equal(order, in.claimed):
		err = fmt.Errorf("%w: %s", ErrMismatch, firstDifference(order, in.claimed))
	default:
		fmt.Fprintf(bw, "# OK: the order of %d sessions is the seed's\n", len(order))
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func firstDifference(want, got []string) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			return fmt.Sprintf("position %d is %s, the seed puts %s there", i+1, got[i], want[i])
		}
	}
	return fmt.Sprintf("the claimed order has %d sessions, the pre-queue %d", len(got), len(want))
}

func duplicate(ids []string) string {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return id
		}
		seen[id] = true
	}
	return ""
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// readLines reads the non-empty lines of a file, or of stdin for "" or "-".
func readLines(path string, stdin io.Reader) ([]string, error) {
	r := stdin
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, errors.New("no input")
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}

// fetch reads a placed pre-queue from a server's admin API.
func fetch(ctx context.Context, url, event string, env Env) (*waitroomv1.ListPreQueueResponse, error) {
	if event == "" {
		return nil, errors.New("-server needs -event")
	}
	token := ""
	if env.Getenv != nil {
		token = env.Getenv("WAITROOM_ADMIN_TOKEN")
	}
	if token == "" {
		return nil, errors.New("-server needs WAITROOM_ADMIN_TOKEN in the environment")
	}
	hc := env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	c := waitroomv1connect.NewEventAdminServiceClient(hc, strings.TrimRight(url, "/"), connect.WithInterceptors(bearer(token)))
	res, err := c.ListPreQueue(ctx, connect.NewRequest(&waitroomv1.ListPreQueueRequest{EventId: event}))
	if err != nil {
		return nil, fmt.Errorf("ListPreQueue(%s): %w", event, err)
	}
	return res.Msg, nil
}

// bearer adds the admin token to every request.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}
