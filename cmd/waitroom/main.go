// Command waitroom runs the virtual waiting room: one port serving gRPC,
// gRPC-Web and the Connect protocol, configured from the environment.
//
//	go run ./cmd/waitroom            # embedded store in ./waitroom-data, port 50056
//	REDIS_ADDR=localhost:6379 go run ./cmd/waitroom
//	go run ./cmd/waitroom keygen     # print a new Ed25519 signing key (PEM)
//	go run ./cmd/waitroom backup DIR # copy the embedded store (WAITROOM_DATA_DIR) into DIR
//	go run ./cmd/waitroom verify-shuffle -seed HEX -ids FILE # recompute a fair start's order
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/waitroom/waitroom/internal/verifyshuffle"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
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
		case "backup":
			return backup(args[1:], getenv, stdout)
		case "verify-shuffle":
			return verifyshuffle.Run(context.Background(), args[1:], verifyshuffle.Env{Stdin: os.Stdin, Stdout: stdout, Getenv: getenv})
		case "help", "-h", "-help", "--help":
			fmt.Fprintln(stdout, "usage: waitroom [keygen | backup DIR | verify-shuffle FLAGS]\n\nConfiguration comes from the environment; see README.md.")
			return nil
		}
		return fmt.Errorf("unknown command %q (want no arguments, keygen, backup DIR or verify-shuffle)", args[0])
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

// backup copies the embedded store in WAITROOM_DATA_DIR into dir, from the
// running server if there is one.
func backup(args []string, getenv func(string) string, w io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: waitroom backup DIR")
	}
	data := getenv("WAITROOM_DATA_DIR")
	if data == "" {
		data = server.DefaultDataDir
	}
	res, err := diskstore.BackupDir(data, args[0])
	if err != nil {
		return fmt.Errorf("backup of %s: %w", data, err)
	}
	from := "the stopped store"
	if res.Live {
		from = "the running server"
	}
	fmt.Fprintf(w, "backed up %s (%d bytes, from %s) to %s\n", data, res.Bytes, from, res.File)
	return nil
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
