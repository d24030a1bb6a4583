//go:build race

package chaos

// raceBuild: the replicas are built with the race detector when the test is.
const raceBuild = true
