package diskstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// The database file (bbolt: a B+tree whose every commit is atomic and
// fsynced) holds:
//
//	meta                  "snapshot" → the current snapshot's LSN (8 bytes)
//	snap-<lsn, 16 hex>    chunk number (4 bytes) → CRC-32C + up to 256 KiB of a memstore dump
//	log-<lsn, 16 hex>     LSN (8 bytes) → one record (ops.go); records from that LSN on
//
// Log records are numbered 1, 2, 3, … without gaps. A snapshot at LSN S is
// the state after record S; start-up restores it and replays the records
// after S. A new log segment starts with each snapshot, so once the
// snapshot is written the segments it covers are dropped whole (bbolt frees
// a bucket's pages without rewriting them) rather than record by record.

// FileName is the database file in the data directory.
const FileName = "waitroom.db"

const chunkSize = 256 << 10

var (
	metaBucket  = []byte("meta")
	snapshotKey = []byte("snapshot")
)

func segmentName(start uint64) []byte { return fmt.Appendf(nil, "log-%016x", start) }
func snapshotName(lsn uint64) []byte  { return fmt.Appendf(nil, "snap-%016x", lsn) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// openDB opens (creating) the database file, refusing at once when another
// process holds it.
func openDB(dir string, readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{
		Timeout:        100 * time.Millisecond,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		ReadOnly:       readOnly,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use by another waitroom process (its database is locked): stop that one first, or give this one another WAITROOM_DATA_DIR", dir)
	}
	return db, err
}

// loaded is the state read from disk.
type loaded struct {
	mem        *memstore.Store
	lastLSN    uint64 // the last record replayed (or the snapshot's LSN)
	segment    uint64 // the segment new records go to
	snapBytes  int64
	logBytes   int64 // replayed
	replayed   int
	dropped    int // records after a corrupt or torn one
	dropReason error
}

// load restores the latest snapshot and replays the log after it into a
// new memory store. A record that fails its checksum or does not decode
// ends the replay: it and every record after it are deleted and counted in
// dropped (each commit is atomic, so only a damaged file leaves one).
func load(db *bolt.DB, mcfg memstore.Config, setNow func(time.Time)) (*loaded, error) {
	l := &loaded{}
	var segs []uint64
	var stale [][]byte
	err := db.View(func(tx *bolt.Tx) error {
		snap := uint64(0)
		if m := tx.Bucket(metaBucket); m != nil {
			if v := m.Get(snapshotKey); len(v) == 8 {
				snap = binary.BigEndian.Uint64(v)
			}
		}
		var err error
		if l.mem, l.snapBytes, err = readSnapshot(tx, snap, mcfg); err != nil {
			return err
		}
		l.lastLSN = snap
		segs, stale = listBuckets(tx, snap)
		return replay(tx, segs, l, setNow)
	})
	if err != nil {
		return nil, err
	}
	l.segment = l.lastLSN + 1
	if len(segs) > 0 {
		l.segment = segs[len(segs)-1]
	}
	if l.dropped == 0 && len(stale) == 0 || db.IsReadOnly() {
		return l, nil
	}
	return l, db.Update(func(tx *bolt.Tx) error {
		for _, name := range stale {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return deleteAfter(tx, segs, l.lastLSN)
	})
}

func readSnapshot(tx *bolt.Tx, lsn uint64, mcfg memstore.Config) (*memstore.Store, int64, error) {
	if lsn == 0 {
		return memstore.New(mcfg), 0, nil
	}
	b := tx.Bucket(snapshotName(lsn))
	if b == nil {
		return nil, 0, fmt.Errorf("the snapshot at record %d is missing", lsn)
	}
	var buf bytes.Buffer
	err := b.ForEach(func(k, v []byte) error {
		if len(v) < 4 || binary.LittleEndian.Uint32(v) != crc32.Checksum(v[4:], crcTable) {
			return fmt.Errorf("the snapshot at record %d is damaged (chunk %x)", lsn, k)
		}
		buf.Write(v[4:])
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	m, err := memstore.Restore(mcfg, buf.Bytes())
	return m, int64(buf.Len()), err
}

// listBuckets returns the log segments in order, and the buckets nothing
// needs: snapshots other than the current one (one whose writing was cut
// short, or an older one whose deletion was).
func listBuckets(tx *bolt.Tx, snap uint64) (segs []uint64, stale [][]byte) {
	tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		n := string(name)
		if s, ok := strings.CutPrefix(n, "log-"); ok {
			if v, err := strconv.ParseUint(s, 16, 64); err == nil {
				segs = append(segs, v)
			}
		} else if s, ok := strings.CutPrefix(n, "snap-"); ok {
			if v, err := strconv.ParseUint(s, 16, 64); err == nil && v != snap {
				stale = append(stale, bytes.Clone(name))
			}
		}
		return nil
	})
	return segs, stale // bucket names sort as their hex LSNs do
}

// replay applies the records after l.lastLSN, in order, until the first one
// that is missing, damaged or refused.
func replay(tx *bolt.Tx, segs []uint64, l *loaded, setNow func(time.Time)) error {
	for _, seg := range segs {
		c := tx.Bucket(segmentName(seg)).Cursor()
		for k, v := c.Seek(u64(l.lastLSN + 1)); k != nil; k, v = c.Next() {
			if l.dropReason != nil {
				l.dropped++
				continue
			}
			lsn := binary.BigEndian.Uint64(k)
			if lsn != l.lastLSN+1 {
				l.dropReason = fmt.Errorf("record %d follows record %d", lsn, l.lastLSN)
				l.dropped++
				continue
			}
			o, err := decodeOp(v)
			if err == nil {
				err = o.replay(l.mem, setNow)
			}
			if err != nil {
				l.dropReason = fmt.Errorf("record %d: %w", lsn, err)
				l.dropped++
				continue
			}
			l.lastLSN = lsn
			l.replayed++
			l.logBytes += int64(len(v))
		}
	}
	return nil
}

// deleteAfter deletes every log record after lsn.
func deleteAfter(tx *bolt.Tx, segs []uint64, lsn uint64) error {
	for _, seg := range segs {
		b := tx.Bucket(segmentName(seg))
		c := b.Cursor()
		for k, _ := c.Seek(u64(lsn + 1)); k != nil; k, _ = c.Seek(u64(lsn + 1)) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// rec is one log record on its way to disk.
type rec struct {
	lsn, segment uint64
	value        []byte
}

// writeRecords appends records in one commit (one fsync for all).
func writeRecords(db *bolt.DB, recs []rec) error {
	return db.Update(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		seg := uint64(0)
		for _, r := range recs {
			if b == nil || r.segment != seg {
				var err error
				if b, err = tx.CreateBucketIfNotExists(segmentName(r.segment)); err != nil {
					return err
				}
				b.FillPercent = 1 // appends only: fill pages, do not split them in half
				seg = r.segment
			}
			if err := b.Put(u64(r.lsn), r.value); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeSnapshotChunk writes chunk i of the snapshot at lsn.
func writeSnapshotChunk(db *bolt.DB, lsn uint64, i int, data []byte) error {
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(snapshotName(lsn))
		if err != nil {
			return err
		}
		b.FillPercent = 1
		v := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(data)), crc32.Checksum(data, crcTable))
		return b.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), append(v, data...))
	})
}

// commitSnapshot makes the snapshot at lsn the current one and drops what
// it replaces: the previous snapshot and the log segments before lsn+1.
func commitSnapshot(db *bolt.DB, lsn uint64) error {
	return db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if err := m.Put(snapshotKey, u64(lsn)); err != nil {
			return err
		}
		segs, stale := listBuckets(tx, lsn)
		for _, name := range stale {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		for _, s := range segs {
			if s <= lsn {
				if err := tx.DeleteBucket(segmentName(s)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
