package queue

// HubViews exposes how many event views a service's hub holds, for tests.
func HubViews(s *Service) int { return s.hub.Views() }
