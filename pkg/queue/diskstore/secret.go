package diskstore

import (
	"bytes"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Secret returns the value kept under name, or, the first time, the value
// generate makes, written to disk (synced) before it is returned: created
// says which. Secrets live in the database file, so a backup carries them
// and a restored store signs and verifies as the original did. They never
// reach a log.
func (s *Store) Secret(name string, generate func() ([]byte, error)) (value []byte, created bool, err error) {
	if name == "" {
		return nil, false, errors.New("diskstore: a secret needs a name")
	}
	key := append([]byte("secret/"), name...)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	err = s.db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(metaBucket); m != nil {
			value = bytes.Clone(m.Get(key))
		}
		return nil
	})
	if err != nil || value != nil {
		return value, false, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, false, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := m.Get(key); v != nil { // another caller got here first
			value = bytes.Clone(v)
			return nil
		}
		value, created = fresh, true
		return m.Put(key, fresh)
	})
	if err != nil {
		return nil, false, err
	}
	return value, created, nil
}
