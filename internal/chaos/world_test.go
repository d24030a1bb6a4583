package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// buildReplica compiles cmd/waitroom into the test's directory, with the
// race detector when the test has it (the packages are then already in the
// build cache, so this is mostly a link).
func buildReplica(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "waitroom")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/waitroom/waitroom/cmd/waitroom")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/waitroom: %v\n%s", err, out)
	}
	return bin
}

// replica is one waitroom process, run from the built binary so that it
// can be killed with SIGKILL as a crash would, and started again on the
// same port.
type replica struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	log  string
	url  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}

	// Clients of the public port, one per protocol, each with its own
	// connections; admin is EventAdminService with the admin token.
	clients []waitroomv1connect.WaitroomServiceClient
	admin   waitroomv1connect.EventAdminServiceClient
}

func newReplica(t *testing.T, name, bin string, env []string, adminToken string) *replica {
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := &replica{
		t: t, name: name, bin: bin, url: "http://" + addr,
		env: append([]string{"LISTEN_ADDR=" + addr, "METRICS_ADDR=127.0.0.1:0"}, env...),
		log: filepath.Join(t.TempDir(), name+".log"),
	}
	for _, opt := range []connect.ClientOption{connect.WithGRPC(), connect.WithGRPCWeb(), connect.WithProtoJSON()} {
		r.clients = append(r.clients, waitroomv1connect.NewWaitroomServiceClient(servertest.H2CClient(), r.url, opt))
	}
	r.admin = waitroomv1connect.NewEventAdminServiceClient(servertest.H2CClient(), r.url,
		connect.WithInterceptors(bearer(adminToken)))
	t.Cleanup(r.stop)
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs the process and waits until it serves.
func (r *replica) start() error {
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(r.bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, r.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for !r.healthy() {
		select {
		case <-done:
			return fmt.Errorf("replica %s exited at start:\n%s", r.name, tail(r.log))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s did not become healthy:\n%s", r.name, tail(r.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (r *replica) healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/healthz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() { r.signal(syscall.SIGKILL, 0) }

// stop ends the process at the test's end: SIGTERM, then SIGKILL.
func (r *replica) stop() { r.signal(syscall.SIGTERM, 15*time.Second) }

func (r *replica) signal(sig syscall.Signal, grace time.Duration) {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// problems returns the lines of the replica's log that mean a bug whatever
// the faults: a data race or a panic.
func (r *replica) problems() []string {
	b, err := os.ReadFile(r.log)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, marker := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if strings.Contains(string(b), marker) {
			out = append(out, fmt.Sprintf("replica %s logged %q:\n%s", r.name, marker, tail(r.log)))
		}
	}
	return out
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// broker is a one-node kfake cluster that keeps its data in a directory,
// so that it can be stopped and started again on the same port with every
// record it had.
type broker struct {
	t    *testing.T
	dir  string
	port int

	mu sync.Mutex
	c  *kfake.Cluster
}

var queueTopics = []string{kafka.TopicJoined, kafka.TopicLeft, kafka.TopicAdmitted, kafka.TopicExpired, kafka.TopicCompleted}

func startBroker(t *testing.T) *broker {
	b := &broker{t: t, dir: t.TempDir()}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(b.dir),
		kfake.SeedTopics(1, append(queueTopics, kafka.TopicCheckoutCompleted)...))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(c.ListenAddrs()[0])
	b.port, _ = strconv.Atoi(port)
	b.c = c
	t.Cleanup(b.stop)
	return b
}

func (b *broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// stop closes the broker; it saves its data first.
func (b *broker) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// start opens the broker again from its data on the same port.
func (b *broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	for range 50 {
		var c *kfake.Cluster
		if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.port), kfake.DataDir(b.dir)); err == nil {
			b.c = c
			return nil
		}
		time.Sleep(100 * time.Millisecond) // the port may linger a moment
	}
	return errors.Join(errors.New("restarting the broker"), err)
}

func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}
