package ecs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/bssopenapi"
	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Balance is an account's balance (BSS QueryAccountBalance, version 2017-12-14).
type Balance struct {
	Account   string  // the account's name ("" = the default account)
	Available float64 // AvailableAmount: what payments and automatic renewals can use
	Cash      float64 // AvailableCashAmount
	Credit    float64 // CreditAmount
	Currency  string  // e.g. CNY, USD
}

// bssDefaultDomain is BSS's endpoint when none is configured: the SDK's endpoint for the
// home region, else the China site's.
func bssDefaultDomain(home string) string {
	if d := bssopenapi.GetEndpointMap()[home]; d != "" {
		return d
	}
	return "business.aliyuncs.com"
}

// Balance reads the account's balance (QueryAccountBalance, on the BSS endpoint:
// Config.BSSEndpoint or Alibaba's). It is paced and retried like every ECS call.
func (c *Client) Balance(ctx context.Context) (Balance, error) {
	domain, scheme := c.bss.domain, c.bss.scheme
	if domain == "" {
		domain, scheme = bssDefaultDomain(c.cfg.HomeRegion), "HTTPS"
	}
	var resp *bssopenapi.QueryAccountBalanceResponse
	err := c.call(ctx, nil, "QueryAccountBalance", "bss", cmpAccount(c.cfg.Account),
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) error {
			req := bssopenapi.CreateQueryAccountBalanceRequest()
			req.SetDomain(domain)
			req.SetScheme(scheme)
			prepare(req)
			resp = bssopenapi.CreateQueryAccountBalanceResponse()
			return api.DoAction(req, resp)
		})
	if err != nil {
		return Balance{}, err
	}
	if !resp.Success && resp.Code != "" && resp.Code != "200" {
		return Balance{}, &APIError{Kind: ErrUnavailable, Action: "QueryAccountBalance", Code: resp.Code, Message: resp.Message, RequestID: resp.RequestId}
	}
	d := resp.Data
	b := Balance{Account: c.cfg.Account, Currency: d.Currency}
	for _, f := range []struct {
		name string
		raw  string
		dst  *float64
	}{{"AvailableAmount", d.AvailableAmount, &b.Available}, {"AvailableCashAmount", d.AvailableCashAmount, &b.Cash}, {"CreditAmount", d.CreditAmount, &b.Credit}} {
		v, err := parseAmount(f.raw)
		if err != nil {
			return Balance{}, fmt.Errorf("ecs: QueryAccountBalance: %s %q: %w", f.name, f.raw, err)
		}
		*f.dst = v
	}
	return b, nil
}

func cmpAccount(name string) string {
	if name == "" {
		return "the account"
	}
	return "account " + name
}

// parseAmount reads an amount as BSS writes it: "1,234.56" (thousands separated), or empty
// for none.
func parseAmount(s string) (float64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	if s == "" {
		return 0, nil
	}
	return strconv.ParseFloat(s, 64)
}
