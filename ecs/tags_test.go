package ecs

import (
	"maps"
	"testing"
)

func TestTags(t *testing.T) {
	var none Tags
	if none.Len() != 0 || none.Get("env") != "" || none.String() != "" {
		t.Fatalf("zero Tags: len %d, env %q, %q", none.Len(), none.Get("env"), none.String())
	}
	tags := NewTags(map[string]string{"team": "web", "env": "prod", "": "dropped"})
	if tags.Len() != 2 || tags.Get("env") != "prod" || tags.Get("team") != "web" || tags.Get("") != "" {
		t.Fatalf("NewTags = %s", tags)
	}
	if got := maps.Collect(tags.All()); len(got) != 2 || got["env"] != "prod" {
		t.Fatalf("All = %v", got)
	}
	with := tags.With("renewbot-channel", "C1").With("env", "dev")
	if with.String() != "env=dev,renewbot-channel=C1,team=web" || tags.String() != "env=prod,team=web" {
		t.Fatalf("With = %s, and the original is now %s", with, tags)
	}
	if got := none.With("a", "1"); got.String() != "a=1" {
		t.Fatalf("With on none = %s", got)
	}
}

// An answer's tags: sorted, the last of a repeated key kept, empty keys left out, either
// spelling (TagKey/TagValue or Key/Value); instances of a scan with equal tags share them.
func TestTagsOfAnswers(t *testing.T) {
	answer := func(id string, tags ...string) instanceAnswer {
		var r instanceAnswer
		r.InstanceId = id
		for i := 0; i < len(tags); i += 2 {
			r.Tags.Tag = append(r.Tags.Tag, struct{ TagKey, TagValue, Key, Value string }{TagKey: tags[i], TagValue: tags[i+1]})
		}
		return r
	}
	s := newInterner()
	a := toInstance(answer("i-a", "team", "web", "env", "test", "", "x", "env", "prod"), "cn-hangzhou", s)
	b := toInstance(answer("i-b", "env", "prod", "team", "web"), "cn-hangzhou", s)
	var old instanceAnswer
	old.Tags.Tag = append(old.Tags.Tag, struct{ TagKey, TagValue, Key, Value string }{Key: "env", Value: "prod"})
	c := toInstance(old, "cn-hangzhou", s)
	if a.Tags.String() != "env=prod,team=web" || b.Tags != a.Tags {
		t.Fatalf("tags %s and %s, shared %v", a.Tags, b.Tags, a.Tags == b.Tags)
	}
	if c.Tags.String() != "env=prod" || c.Tags == a.Tags {
		t.Fatalf("Key/Value tags = %s", c.Tags)
	}
	if n := toInstance(answer("i-n", "", "x"), "cn-hangzhou", s); n.Tags.Len() != 0 {
		t.Fatalf("only an empty key: %s", n.Tags)
	}
	if l := toInstance(answer("i-l", "env", "prod", "team", "web"), "cn-hangzhou", nil); l.Tags.String() != "env=prod,team=web" {
		t.Fatalf("without an interner: %s", l.Tags)
	}
}
