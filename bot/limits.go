package bot

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's Block Kit limits (docs.slack.dev/reference/block-kit). slack-go checks none of
// them, so every message the bot builds goes through CheckLimits in tests.
const (
	MaxBlocks          = 50    // blocks per message
	MaxSectionText     = 3000  // section text, context text
	MaxFieldText       = 2000  // one section field
	MaxFields          = 10    // fields per section
	MaxHeaderText      = 150   // header (plain_text)
	MaxContextElements = 10    // elements per context block
	MaxActionElements  = 25    // elements per actions block
	MaxButtonText      = 75    // button label
	MaxButtonValue     = 2000  // button value
	MaxOptionText      = 75    // option label, option group label
	MaxOptionValue     = 150   // option value
	MaxOverflowOptions = 5     // options of an overflow menu
	MaxSelectOptions   = 100   // options (or groups) of a static select
	MaxPlaceholder     = 150   // select placeholder
	MaxID              = 255   // action_id, block_id
	MaxConfirmTitle    = 100   // confirmation dialog title
	MaxConfirmText     = 300   // confirmation dialog text
	MaxConfirmButton   = 30    // confirmation dialog confirm/deny labels
	MaxMessageText     = 10000 // all text of all blocks: Slack refuses much more (msg_blocks_too_long near ~13k)
	MaxFallbackText    = 40000 // top-level text; Slack truncates above
	messageBudget      = 9000  // what builders aim for, below MaxMessageText
	sectionBudget      = 2900  // what builders pack into one section, below MaxSectionText
	maxFallbackBudget  = 3000  // builders keep fallback text short: it shows in notifications
)

// CheckLimits reports every way text and blocks break Slack's limits, or nil.
func CheckLimits(text string, blocks []slack.Block) error {
	c := limitChecker{blockIDs: map[string]bool{}}
	if n := utf8.RuneCountInString(text); n > MaxFallbackText {
		c.errf("fallback text is %d characters (max %d)", n, MaxFallbackText)
	}
	if text == "" && len(blocks) == 0 {
		c.errf("message has neither text nor blocks")
	}
	if len(blocks) > MaxBlocks {
		c.errf("%d blocks (max %d)", len(blocks), MaxBlocks)
	}
	for i, b := range blocks {
		c.where = fmt.Sprintf("block %d", i)
		c.block(b)
	}
	if c.total > MaxMessageText {
		c.where = "message"
		c.errf("%d characters of text in blocks (max %d)", c.total, MaxMessageText)
	}
	return errors.Join(c.errs...)
}

type limitChecker struct {
	where    string
	total    int
	blockIDs map[string]bool
	errs     []error
}

func (c *limitChecker) errf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(c.where+": "+format, args...))
}

func (c *limitChecker) blockID(id string) {
	if id == "" {
		return
	}
	if len(id) > MaxID {
		c.errf("block_id is %d characters (max %d)", len(id), MaxID)
	}
	if c.blockIDs[id] {
		c.errf("block_id %q is used twice", id)
	}
	c.blockIDs[id] = true
}

// text checks one text object: present, non-empty, at most max characters.
func (c *limitChecker) text(what string, t *slack.TextBlockObject, max int, plainOnly bool) {
	if t == nil {
		c.errf("%s is missing", what)
		return
	}
	if t.Type != slack.PlainTextType && t.Type != slack.MarkdownType {
		c.errf("%s has type %q", what, t.Type)
	}
	if plainOnly && t.Type != slack.PlainTextType {
		c.errf("%s must be plain_text", what)
	}
	n := utf8.RuneCountInString(t.Text)
	if n == 0 {
		c.errf("%s is empty", what)
	}
	if n > max {
		c.errf("%s is %d characters (max %d)", what, n, max)
	}
	c.total += n
}

func (c *limitChecker) block(b slack.Block) {
	switch b := b.(type) {
	case *slack.SectionBlock:
		c.section(b)
	case *slack.ActionBlock:
		c.actions(b)
	case *slack.ContextBlock:
		c.context(b)
	case *slack.HeaderBlock:
		c.blockID(b.BlockID)
		c.text("header", b.Text, MaxHeaderText, true)
	case *slack.DividerBlock:
		c.blockID(b.BlockID)
	case nil:
		c.errf("nil block")
	default:
		c.blockID(b.ID())
		c.errf("block type %q is not checked by CheckLimits", b.BlockType())
	}
}

func (c *limitChecker) section(b *slack.SectionBlock) {
	c.blockID(b.BlockID)
	if b.Text == nil && len(b.Fields) == 0 {
		c.errf("section has neither text nor fields")
	}
	if b.Text != nil {
		c.text("section text", b.Text, MaxSectionText, false)
	}
	if len(b.Fields) > MaxFields {
		c.errf("section has %d fields (max %d)", len(b.Fields), MaxFields)
	}
	for _, f := range b.Fields {
		c.text("section field", f, MaxFieldText, false)
	}
	if a := b.Accessory; a != nil {
		actionIDs := map[string]bool{}
		switch {
		case a.ButtonElement != nil:
			c.button(a.ButtonElement, actionIDs)
		case a.OverflowElement != nil:
			c.overflow(a.OverflowElement, actionIDs)
		case a.SelectElement != nil:
			c.selectMenu(a.SelectElement, actionIDs)
		default:
			c.errf("section accessory of a type CheckLimits does not check")
		}
	}
}

func (c *limitChecker) context(b *slack.ContextBlock) {
	c.blockID(b.BlockID)
	els := b.ContextElements.Elements
	if len(els) == 0 {
		c.errf("context block has no elements")
	}
	if len(els) > MaxContextElements {
		c.errf("context block has %d elements (max %d)", len(els), MaxContextElements)
	}
	for _, e := range els {
		switch e := e.(type) {
		case *slack.TextBlockObject:
			c.text("context text", e, MaxSectionText, false)
		case *slack.ImageBlockElement:
		default:
			c.errf("context element %T is not checked by CheckLimits", e)
		}
	}
}

func (c *limitChecker) actions(b *slack.ActionBlock) {
	c.blockID(b.BlockID)
	if b.Elements == nil || len(b.Elements.ElementSet) == 0 {
		c.errf("actions block has no elements")
		return
	}
	if n := len(b.Elements.ElementSet); n > MaxActionElements {
		c.errf("actions block has %d elements (max %d)", n, MaxActionElements)
	}
	actionIDs := map[string]bool{}
	for _, e := range b.Elements.ElementSet {
		switch e := e.(type) {
		case *slack.ButtonBlockElement:
			c.button(e, actionIDs)
		case *slack.OverflowBlockElement:
			c.overflow(e, actionIDs)
		case *slack.SelectBlockElement:
			c.selectMenu(e, actionIDs)
		default:
			c.errf("actions element %T is not checked by CheckLimits", e)
		}
	}
}

func (c *limitChecker) actionID(id string, seen map[string]bool) {
	if id == "" {
		c.errf("interactive element without action_id")
		return
	}
	if len(id) > MaxID {
		c.errf("action_id is %d characters (max %d)", len(id), MaxID)
	}
	if seen[id] {
		c.errf("action_id %q is used twice in one block", id)
	}
	seen[id] = true
}

func (c *limitChecker) button(b *slack.ButtonBlockElement, seen map[string]bool) {
	c.actionID(b.ActionID, seen)
	c.text("button text", b.Text, MaxButtonText, true)
	if n := utf8.RuneCountInString(b.Value); n > MaxButtonValue {
		c.errf("button value is %d characters (max %d)", n, MaxButtonValue)
	}
	c.confirm(b.Confirm)
}

func (c *limitChecker) overflow(o *slack.OverflowBlockElement, seen map[string]bool) {
	c.actionID(o.ActionID, seen)
	if n := len(o.Options); n < 1 || n > MaxOverflowOptions {
		c.errf("overflow has %d options (1 to %d)", n, MaxOverflowOptions)
	}
	for _, op := range o.Options {
		c.option(op)
	}
	c.confirm(o.Confirm)
}

func (c *limitChecker) selectMenu(s *slack.SelectBlockElement, seen map[string]bool) {
	c.actionID(s.ActionID, seen)
	if s.Type != slack.OptTypeStatic {
		c.errf("select of type %q is not checked by CheckLimits", s.Type)
	}
	if s.Placeholder != nil {
		c.text("select placeholder", s.Placeholder, MaxPlaceholder, true)
	}
	n := len(s.Options)
	for _, g := range s.OptionGroups {
		c.text("option group label", g.Label, MaxOptionText, true)
		n += len(g.Options)
		for _, op := range g.Options {
			c.option(op)
		}
	}
	if n < 1 || n > MaxSelectOptions || len(s.OptionGroups) > MaxSelectOptions {
		c.errf("select has %d options (1 to %d)", n, MaxSelectOptions)
	}
	for _, op := range s.Options {
		c.option(op)
	}
	c.confirm(s.Confirm)
}

func (c *limitChecker) option(o *slack.OptionBlockObject) {
	if o == nil {
		c.errf("nil option")
		return
	}
	c.text("option text", o.Text, MaxOptionText, true)
	if n := utf8.RuneCountInString(o.Value); n == 0 || n > MaxOptionValue {
		c.errf("option value is %d characters (1 to %d)", n, MaxOptionValue)
	}
}

func (c *limitChecker) confirm(d *slack.ConfirmationBlockObject) {
	if d == nil {
		return
	}
	c.text("confirm title", d.Title, MaxConfirmTitle, true)
	c.text("confirm text", d.Text, MaxConfirmText, false)
	c.text("confirm button", d.Confirm, MaxConfirmButton, true)
	if d.Deny != nil {
		c.text("confirm deny button", d.Deny, MaxConfirmButton, true)
	}
}
