package bottest

import (
	"net/url"
	"sort"
	"time"
)

// Posted is a message the fake holds: where and when it was posted and its latest fields.
type Posted struct {
	Channel string
	TS      string
	Form    url.Values // fields of the chat.postMessage, or of the latest chat.update
	At      time.Time  // when it was posted
	Edits   int        // how many chat.update calls changed it
}

// Messages returns every message posted so far with its latest fields, oldest first.
func (f *FakeSlack) Messages() []Posted {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Posted, 0, len(f.messages))
	for key, m := range f.messages {
		ch := key[:len(key)-len(m.ts)-1]
		out = append(out, Posted{Channel: ch, TS: m.ts, Form: m.form, At: m.at, Edits: m.edits})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TS < out[j].TS }) // ts grow with every post
	return out
}

// Changed returns a channel that is closed at the next call the fake records (a post, an
// update, an ephemeral, a response_url answer, an upload), for watchers such as a page that
// shows the channel live. Call it again after each wake-up.
func (f *FakeSlack) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}
