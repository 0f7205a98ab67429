package ecs

// Exported for the ecs_test package only.
var (
	KindOf      = kindOf
	ParseExpiry = parseExpiry
	Backoff     = backoff
)
