package memstore

// NewWithUserHash is New with h as the hash of the live-session index (tests
// use it to make every user collide).
func NewWithUserHash(cfg Config, h func(string) uint64) *Store {
	s := New(cfg)
	s.userHash = h
	return s
}
