package ecs

import (
	"encoding/binary"
	"iter"
	"maps"
	"slices"
	"strings"
)

// Tag is one of an instance's tags.
type Tag struct{ Key, Value string }

// Tags are an instance's tags, sorted by key, each key once; the zero value has none. They
// are read-only: a scan keeps one copy of each distinct set of tags, shared by the instances
// that have it (a map per instance was a third of the memory a 400,000-instance scan kept).
type Tags struct{ list *[]Tag }

// NewTags makes Tags of a map's entries, leaving out empty keys.
func NewTags(m map[string]string) Tags {
	list := make([]Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "" {
			list = append(list, Tag{k, m[k]})
		}
	}
	return tagsOf(list)
}

func tagsOf(list []Tag) Tags {
	if len(list) == 0 {
		return Tags{}
	}
	return Tags{&list}
}

func (t Tags) tags() []Tag {
	if t.list == nil {
		return nil
	}
	return *t.list
}

// Get returns the value of the tag key, "" when there is none.
func (t Tags) Get(key string) string {
	for _, tag := range t.tags() {
		if tag.Key == key {
			return tag.Value
		}
	}
	return ""
}

// Len is the number of tags.
func (t Tags) Len() int { return len(t.tags()) }

// All yields every tag's key and value, by key.
func (t Tags) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, tag := range t.tags() {
			if !yield(tag.Key, tag.Value) {
				return
			}
		}
	}
}

// With returns new Tags with key set to value; t is unchanged.
func (t Tags) With(key, value string) Tags {
	list := slices.Clone(t.tags())
	i, found := slices.BinarySearchFunc(list, key, func(tag Tag, k string) int { return strings.Compare(tag.Key, k) })
	if found {
		list[i].Value = value
	} else {
		list = slices.Insert(list, i, Tag{key, value})
	}
	return tagsOf(list)
}

// String is the tags as key=value pairs, by key, separated by commas.
func (t Tags) String() string {
	var b strings.Builder
	for i, tag := range t.tags() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tag.Key + "=" + tag.Value)
	}
	return b.String()
}

// interner holds one copy of what many instances of a scan share: strings (region, zone,
// type, charge type, status, tag keys and values) and sets of tags, so that 400,000
// instances keep one copy of each instead of one per instance. A nil interner keeps
// everything as it is.
type interner struct {
	strs map[string]string
	tags map[string]Tags // by the set's keys and values, each after its length
	key  []byte
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, tags: map[string]Tags{}}
}

func (s *interner) of(x string) string {
	if s == nil {
		return x
	}
	if y, ok := s.strs[x]; ok {
		return y
	}
	s.strs[x] = x
	return x
}

// tagsOf makes Tags of an answer's tags: sorted by key, the last value of a key repeated,
// empty keys left out.
func (s *interner) tagsOf(raw []Tag) Tags {
	slices.SortStableFunc(raw, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	list := raw[:0]
	for _, t := range raw {
		switch {
		case t.Key == "":
		case len(list) > 0 && list[len(list)-1].Key == t.Key:
			list[len(list)-1] = t
		default:
			list = append(list, t)
		}
	}
	if len(list) == 0 {
		return Tags{}
	}
	if s == nil {
		return tagsOf(slices.Clone(list))
	}
	s.key = s.key[:0]
	for _, t := range list {
		s.key = append(binary.AppendUvarint(s.key, uint64(len(t.Key))), t.Key...)
		s.key = append(binary.AppendUvarint(s.key, uint64(len(t.Value))), t.Value...)
	}
	if tags, ok := s.tags[string(s.key)]; ok {
		return tags
	}
	own := make([]Tag, len(list))
	for i, t := range list {
		own[i] = Tag{s.of(t.Key), s.of(t.Value)}
	}
	tags := tagsOf(own)
	s.tags[string(s.key)] = tags
	return tags
}
