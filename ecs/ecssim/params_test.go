package ecssim

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"
)

// metadataDir finds ../shared/reference/ecs-api-params beside the repository (CI has it
// there). A missing directory fails the test: the table is only trusted when compared.
// metadataDir is Alibaba's parameter metadata (aliyun-openapi-meta, Apache 2.0) for the
// table test. The workplace's reference copy, ../shared/reference/SUB next to the repository,
// is the source; testdata/alibaba-meta/SUB is a copy of it kept in the repository so the test
// also runs where the reference is not beside the clone. When the reference is there, the copy
// must equal it file for file, so the two cannot drift apart.
func metadataDir(t *testing.T, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	copyDir := filepath.Join("testdata", "alibaba-meta", sub)
	ref := filepath.Join(dir, "..", "shared", "reference", sub)
	refFiles, err := filepath.Glob(filepath.Join(ref, "*"))
	if err != nil || len(refFiles) == 0 {
		t.Logf("no reference metadata at %s: checking the table against the repository's copy %s", ref, copyDir)
		return copyDir
	}
	copyFiles, _ := filepath.Glob(filepath.Join(copyDir, "*"))
	if len(copyFiles) != len(refFiles) {
		t.Fatalf("%s has %d files, the reference %s has %d: copy the reference again", copyDir, len(copyFiles), ref, len(refFiles))
	}
	for _, f := range refFiles {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(copyDir, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s differs from the reference %s (%v): copy the reference again", filepath.Join(copyDir, filepath.Base(f)), f, err)
		}
	}
	return ref
}

type metaParam struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Description string `json:"description"`
}

type metaAPI struct {
	Name       string      `json:"name"`
	Parameters []metaParam `json:"parameters"`
}

func loadMeta(t *testing.T, dir string) map[string]metaAPI {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no metadata files in %s: %v", dir, err)
	}
	out := map[string]metaAPI{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var api metaAPI
		if err := json.Unmarshal(b, &api); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[api.Name] = api
	}
	return out
}

// mentions reports whether the description names the value as a whole word.
func mentions(desc, v string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(v) + `($|[^A-Za-z0-9_-])`).MatchString(desc)
}

func TestParamTableMatchesAlibabaMetadata(t *testing.T) {
	meta := loadMeta(t, metadataDir(t, "ecs-api-params"))
	for name, api := range loadMeta(t, metadataDir(t, "sts-bss-api-params")) {
		meta[name] = api
	}
	var actions []string
	for a := range actionParams {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	if got := slices.Sorted(func(yield func(string) bool) {
		for a := range meta {
			if !yield(a) {
				return
			}
		}
	}); !slices.Equal(got, actions) {
		t.Fatalf("metadata has actions %v, the table %v", got, actions)
	}
	for _, action := range actions {
		api := meta[action]
		specs := map[string]paramSpec{}
		for _, ps := range actionParams[action] {
			specs[ps.Name] = ps
		}
		for _, mp := range api.Parameters {
			ps, ok := specs[mp.Name]
			if !ok {
				t.Errorf("%s: metadata parameter %s (%s) is not in the table", action, mp.Name, mp.Type)
				continue
			}
			delete(specs, mp.Name)
			if ps.Type != mp.Type || ps.Required != mp.Required {
				t.Errorf("%s.%s: table says %s required=%v, metadata %s required=%v", action, mp.Name, ps.Type, ps.Required, mp.Type, mp.Required)
			}
			if ps.Source != "" {
				continue
			}
			for _, v := range ps.Enum {
				if !mentions(mp.Description, v) {
					t.Errorf("%s.%s: value %q is not in the metadata's description: %s", action, mp.Name, v, mp.Description)
				}
			}
			var nums []int
			nums = append(nums, ps.Ints...)
			if ps.Max > 0 {
				nums = append(nums, ps.Min, ps.Max)
			}
			for _, n := range nums {
				if !mentions(mp.Description, itoa(n)) {
					t.Errorf("%s.%s: value %d is not in the metadata's description: %s", action, mp.Name, n, mp.Description)
				}
			}
		}
		for name := range specs {
			t.Errorf("%s: table parameter %s is not in Alibaba's metadata", action, name)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
