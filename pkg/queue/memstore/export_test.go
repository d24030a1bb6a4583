package memstore

// WithUserHash replaces the hash of the live-session index.
var WithUserHash = withUserHash
