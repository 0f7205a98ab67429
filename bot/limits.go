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
	maxBlocks          = 50    // blocks per message
	maxSectionText     = 3000  // section text, context text
	maxFieldText       = 2000  // one section field
	maxFields          = 10    // fields per section
	maxHeaderText      = 150   // header (plain_text)
	maxContextElements = 10    // elements per context block
	maxActionElements  = 25    // elements per actions block
	maxButtonText      = 75    // button label
	maxButtonValue     = 2000  // button value
	maxOptionText      = 75    // option label, option group label
	maxOptionValue     = 150   // option value
	maxOverflowOptions = 5     // options of an overflow menu
	maxSelectOptions   = 100   // options (or groups) of a static select
	maxPlaceholder     = 150   // select placeholder
	maxID              = 255   // action_id, block_id
	maxConfirmTitle    = 100   // confirmation dialog title
	maxConfirmText     = 300   // confirmation dialog text
	maxConfirmButton   = 30    // confirmation dialog confirm/deny labels
	maxMessageText     = 10000 // all text of all blocks: Slack refuses much more (msg_blocks_too_long near ~13k)
	maxFallbackText    = 40000 // top-level text; Slack truncates above
	messageBudget      = 9000  // what builders aim for, below maxMessageText
	sectionBudget      = 2900  // what builders pack into one section, below maxSectionText
	maxFallbackBudget  = 3000  // builders keep fallback text short: it shows in notifications
)

// CheckLimits reports every way text and blocks break Slack's limits, or nil.
func CheckLimits(text string, blocks []slack.Block) error {
	c := limitChecker{blockIDs: map[string]bool{}}
	if n := utf8.RuneCountInString(text); n > maxFallbackText {
		c.errf("fallback text is %d characters (max %d)", n, maxFallbackText)
	}
	if text == "" && len(blocks) == 0 {
		c.errf("message has neither text nor blocks")
	}
	if len(blocks) > maxBlocks {
		c.errf("%d blocks (max %d)", len(blocks), maxBlocks)
	}
	for i, b := range blocks {
		c.where = fmt.Sprintf("block %d", i)
		c.block(b)
	}
	if c.total > maxMessageText {
		c.where = "message"
		c.errf("%d characters of text in blocks (max %d)", c.total, maxMessageText)
	}
	return errors.Join(c.errs...)
}

// blocksText is the characters of text the blocks carry, as CheckLimits counts them against
// maxMessageText.
func blocksText(blocks []slack.Block) int {
	c := limitChecker{blockIDs: map[string]bool{}}
	for _, b := range blocks {
		c.block(b)
	}
	return c.total
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
	if len(id) > maxID {
		c.errf("block_id is %d characters (max %d)", len(id), maxID)
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
		c.text("header", b.Text, maxHeaderText, true)
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
		c.text("section text", b.Text, maxSectionText, false)
	}
	if len(b.Fields) > maxFields {
		c.errf("section has %d fields (max %d)", len(b.Fields), maxFields)
	}
	for _, f := range b.Fields {
		c.text("section field", f, maxFieldText, false)
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
	if len(els) > maxContextElements {
		c.errf("context block has %d elements (max %d)", len(els), maxContextElements)
	}
	for _, e := range els {
		switch e := e.(type) {
		case *slack.TextBlockObject:
			c.text("context text", e, maxSectionText, false)
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
	if n := len(b.Elements.ElementSet); n > maxActionElements {
		c.errf("actions block has %d elements (max %d)", n, maxActionElements)
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
	if len(id) > maxID {
		c.errf("action_id is %d characters (max %d)", len(id), maxID)
	}
	if seen[id] {
		c.errf("action_id %q is used twice in one block", id)
	}
	seen[id] = true
}

func (c *limitChecker) button(b *slack.ButtonBlockElement, seen map[string]bool) {
	c.actionID(b.ActionID, seen)
	c.text("button text", b.Text, maxButtonText, true)
	if n := utf8.RuneCountInString(b.Value); n > maxButtonValue {
		c.errf("button value is %d characters (max %d)", n, maxButtonValue)
	}
	c.confirm(b.Confirm)
}

func (c *limitChecker) overflow(o *slack.OverflowBlockElement, seen map[string]bool) {
	c.actionID(o.ActionID, seen)
	if n := len(o.Options); n < 1 || n > maxOverflowOptions {
		c.errf("overflow has %d options (1 to %d)", n, maxOverflowOptions)
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
		c.text("select placeholder", s.Placeholder, maxPlaceholder, true)
	}
	n := len(s.Options)
	for _, g := range s.OptionGroups {
		c.text("option group label", g.Label, maxOptionText, true)
		n += len(g.Options)
		for _, op := range g.Options {
			c.option(op)
		}
	}
	if n < 1 || n > maxSelectOptions || len(s.OptionGroups) > maxSelectOptions {
		c.errf("select has %d options (1 to %d)", n, maxSelectOptions)
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
	c.text("option text", o.Text, maxOptionText, true)
	if n := utf8.RuneCountInString(o.Value); n == 0 || n > maxOptionValue {
		c.errf("option value is %d characters (1 to %d)", n, maxOptionValue)
	}
}

func (c *limitChecker) confirm(d *slack.ConfirmationBlockObject) {
	if d == nil {
		return
	}
	c.text("confirm title", d.Title, maxConfirmTitle, true)
	c.text("confirm text", d.Text, maxConfirmText, false)
	c.text("confirm button", d.Confirm, maxConfirmButton, true)
	if d.Deny != nil {
		c.text("confirm deny button", d.Deny, maxConfirmButton, true)
	}
}
