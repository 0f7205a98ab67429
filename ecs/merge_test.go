package ecs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestMergeInstances: merging sorted lists gives what sorting their concatenation gives,
// equal expiry times (ordered by ID) and empty lists included; no instances give nil.
func TestMergeInstances(t *testing.T) {
	if got := mergeInstances([][]Instance{nil, {}}); got != nil {
		t.Fatalf("merge of empty lists = %#v, want nil", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	for round := range 50 {
		var lists [][]Instance
		var all []Instance
		for l := range rng.IntN(40) + 1 { // up to 40 lists: many accounts × regions
			var list []Instance
			for i := range rng.IntN(40) {
				list = append(list, Instance{ID: fmt.Sprintf("i-%d-%d-%d", round, l, i),
					ExpiredTime: base.AddDate(0, 0, rng.IntN(5))}) // many equal times
			}
			sortInstances(list)
			lists = append(lists, list)
			all = append(all, list...)
		}
		sortInstances(all)
		got := mergeInstances(lists)
		if !slices.EqualFunc(got, all, func(a, b Instance) bool { return a.ID == b.ID }) || len(got) != len(all) {
			t.Fatalf("round %d: merged %d instances out of order (want %d)", round, len(got), len(all))
		}
	}
}
