package diskstore

func (s *Store) listenBackup() {}
