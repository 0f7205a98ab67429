package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting keeps the README's reference true: every subcommand, every
// flag and every environment variable the code reads is named in README.md.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, c := range commands() {
		if !strings.Contains(readme, "renewbot "+c.name) {
			t.Errorf("README does not show `renewbot %s`", c.name)
		}
		s := settingsFor(c.name)
		if s == nil {
			continue
		}
		for _, st := range s.list {
			if st.flag != "" && !strings.Contains(readme, "`--"+st.flag+"`") {
				t.Errorf("README does not list flag `--%s` of renewbot %s", st.flag, c.name)
			}
			if st.env != "" && !strings.Contains(readme, "`"+st.env+"`") {
				t.Errorf("README does not list `%s` (renewbot %s --%s)", st.env, c.name, st.flag)
			}
		}
	}
}
