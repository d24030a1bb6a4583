package server

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeListsEverySetting: each variable ConfigFromEnv reads has a row
// in the README's configuration table.
func TestReadmeListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line[:strings.Index(line[1:], "|")+1])
		}
	}
	table := strings.Join(rows, "\n")
	var read []string
	if _, err := ConfigFromEnv(func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatal(err)
	}
	for _, name := range read {
		if !strings.Contains(table, "`"+name+"`") {
			t.Errorf("%s has no row in README.md's configuration table", name)
		}
	}
}
