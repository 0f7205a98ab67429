package bot

import "testing"

func TestForSlack(t *testing.T) {
	for in, want := range map[string]string{
		"RenewInstance cn-hangzhou 3 month(s), ClientToken rb-0123456789abcdef0123456789abcdef0": "RenewInstance cn-hangzhou 3 month(s)",
		"order 2000001 (RequestId 6A1F-22B3)":                                                    "order 2000001",
		"RequestId 6A1F-22B3":                                                                    "",
		"RequestId A1,B2":                                                                        "",
		"changed (RequestId 9C) but Alibaba Cloud does not show auto-renew on yet":               "changed but Alibaba Cloud does not show auto-renew on yet",
		"not enough account balance for i-x (InvalidAccountStatus.NotEnoughBalance: Your account does not have enough balance.; RenewInstance, RequestId 81D3, 3 attempts)": "not enough account balance for i-x (InvalidAccountStatus.NotEnoughBalance: Your account does not have enough balance.; RenewInstance, 3 attempts)",
		"ECS API unavailable (RenewInstance, RequestId 81D3)":        "ECS API unavailable (RenewInstance)",
		"token rb-0123456789abcdef0123456789abcdef0 reused":          "token reused",
		"continuing with the same ClientTokens":                      "continuing with the same ClientTokens",
		"request R20261125001 approved":                              "request R20261125001 approved",
		"see https://api.aliyun.com/troubleshoot?q=X&requestId=81D3": "see https://api.aliyun.com/troubleshoot?q=X&",
	} {
		if got := forSlack(in); got != want {
			t.Errorf("forSlack(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}
