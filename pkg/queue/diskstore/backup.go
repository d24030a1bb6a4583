package diskstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// A backup is a copy of the database file as of one commit, written while
// the store serves (a bbolt read transaction sees one commit however long
// it runs). The serving process hands it out on a Unix socket in the data
// directory, reachable only by the directory's owner, so that `waitroom
// backup` can take one from another process.

// SocketName is the backup socket in the data directory.
const SocketName = "backup.sock"

// Backup writes a consistent copy of the database file to w.
func (s *Store) Backup(w io.Writer) (int64, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var size [8]byte
		binary.BigEndian.PutUint64(size[:], uint64(tx.Size()))
		if _, err := w.Write(size[:]); err != nil {
			return err
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// listenBackup serves backups on the socket; without it (a directory path
// too long for a socket name) backups need the server stopped.
func (s *Store) listenBackup() {
	path := filepath.Join(s.cfg.Dir, SocketName)
	os.Remove(path) // a dead process's: this one holds the directory now
	ln, err := net.Listen("unix", path)
	if err != nil {
		s.log.Warn("Embedded store: no backup socket; `waitroom backup` will need the server stopped", "error", err)
		return
	}
	s.backupLn = ln
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bw := bufio.NewWriterSize(c, 1<<20)
			n, err := s.Backup(bw)
			if err == nil {
				err = bw.Flush()
			}
			c.Close()
			if err != nil {
				s.log.Warn("Embedded store: backup failed", "error", err)
			} else {
				s.log.Info("Embedded store: backup taken", "bytes", n)
			}
		}
	})
}

// BackupResult describes a backup BackupDir wrote.
type BackupResult struct {
	// File is the copy of the database file.
	File  string
	Bytes int64
	// Live says the copy came from a running server.
	Live bool
	// Records is how many log records the copy replays on top of its
	// snapshot (it was opened and read through to check it).
	Records int
}

// BackupDir writes a consistent copy of the store in dataDir to destDir
// (created if missing; it must not hold a database already), from the
// server holding dataDir when one does, else from the directory itself.
// The copy is checked by reading it back as a store would at start; a
// data directory holding only that file is a restored store.
func BackupDir(dataDir, destDir string) (BackupResult, error) {
	res := BackupResult{File: filepath.Join(destDir, FileName)}
	if _, err := os.Stat(res.File); err == nil {
		return res, fmt.Errorf("%s already exists: back up into an empty directory", res.File)
	}
	if err := os.MkdirAll(destDir, 0o700); err != nil {
		return res, err
	}
	tmp := res.File + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return res, err
	}
	defer os.Remove(tmp)
	res.Bytes, res.Live, err = copyStore(dataDir, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	if res.Records, err = checkCopy(tmp); err != nil {
		return res, fmt.Errorf("the copy does not read back: %w", err)
	}
	if err := os.Rename(tmp, res.File); err != nil {
		return res, err
	}
	return res, syncDir(destDir)
}

// copyStore copies from the server's socket, or, with no server, from the
// file itself.
func copyStore(dataDir string, w io.Writer) (n int64, live bool, err error) {
	c, derr := net.DialTimeout("unix", filepath.Join(dataDir, SocketName), 5*time.Second)
	if derr == nil {
		defer c.Close()
		var size [8]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return 0, true, fmt.Errorf("reading the backup from the server: %w", err)
		}
		n, err = io.Copy(w, c)
		if err == nil && n != int64(binary.BigEndian.Uint64(size[:])) {
			err = fmt.Errorf("the server sent %d bytes of %d", n, binary.BigEndian.Uint64(size[:]))
		}
		return n, true, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, FileName)); err != nil {
		return 0, false, fmt.Errorf("no store in %s: %w", dataDir, err)
	}
	db, err := openDB(dataDir, true)
	if err != nil {
		return 0, false, fmt.Errorf("%w (and its backup socket: %v)", err, derr)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, false, err
}

// checkCopy reads a copied database through as Open would.
func checkCopy(path string) (int, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	l, err := load(db, memstore.Config{}, func(time.Time) {})
	switch {
	case err != nil:
		return 0, err
	case l.dropped > 0:
		return 0, fmt.Errorf("%d damaged records: %v", l.dropped, l.dropReason)
	}
	return l.replayed, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
