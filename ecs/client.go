package ecs

import (
	"context"
	"errors"
	"time"
)

var errTODO = errors.New("ecs: not implemented yet")

// Client talks to ECS in every configured region. Safe for concurrent use.
type Client struct {
	cfg Config
}

// New builds a Client. It does not call the API.
func New(cfg Config) (*Client, error) { return &Client{cfg: cfg}, nil }

// Regions returns the configured regions, or every region from DescribeRegions.
func (c *Client) Regions(ctx context.Context) ([]string, error) { return nil, errTODO }

// Expiring returns every PrePaid instance whose ExpiredTime is in [from, to), in all regions,
// joined with its auto-renew state.
func (c *Client) Expiring(ctx context.Context, from, to time.Time) (Scan, error) {
	return Scan{}, errTODO
}

// Lookup finds instances by ID in any region (one DescribeInstances per region, in parallel),
// joined with auto-renew state. IDs not found anywhere give an error wrapping ErrNotFound.
func (c *Client) Lookup(ctx context.Context, ids []string) ([]Instance, error) { return nil, errTODO }

// Quote prices renewing one instance for months (DescribeRenewalPrice).
func (c *Client) Quote(ctx context.Context, regionID, instanceID string, months int) (Quote, error) {
	return Quote{}, errTODO
}

// Renew calls RenewInstance once (plus retries with the same ClientToken).
func (c *Client) Renew(ctx context.Context, in RenewInput) (RenewResult, error) {
	return RenewResult{}, errTODO
}

// AutoRenew reads the auto-renew attribute of up to any number of instances in one region,
// in batches of 100.
func (c *Client) AutoRenew(ctx context.Context, regionID string, ids []string) (map[string]AutoRenew, error) {
	return nil, errTODO
}

// SetAutoRenew changes the auto-renew attribute of instances in one region (batches of 100).
func (c *Client) SetAutoRenew(ctx context.Context, regionID string, ids []string, ch AutoRenewChange) (string, error) {
	return "", errTODO
}

// Verify polls DescribeInstances (one call for all ids) with backoff until every instance's
// ExpiredTime is at or after want[id], and returns the observed expiries.
func (c *Client) Verify(ctx context.Context, regionID string, want map[string]time.Time) (map[string]time.Time, error) {
	return nil, errTODO
}
