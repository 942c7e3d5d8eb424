package insights

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/allot-dev/allot"
)

func TestWriteExport(t *testing.T) {
	t.Parallel()
	rows := []allot.ReportRow{
		{Dims: []string{"2026-11-02", "data", "bob", "openai", "gpt-4o", "review", "codex"}, Requests: 3,
			Tokens: allot.Tokens{Input: 1000, CacheRead: 400, CacheWrite5m: 10, Output: 50}, Cost: allot.MustUSD("0.012345678")},
		{Dims: []string{"2026-11-01", "data", "bob", "openai", "gpt-4o", "review", "codex"}, Requests: 1, Cost: 1},
	}
	var b bytes.Buffer
	if err := WriteExport(&b, "focus", "acme", rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want header and 2", len(recs))
	}
	row := map[string]string{}
	for i, c := range recs[0] {
		row[c] = recs[2][i] // sorted by day: Nov 2 second
	}
	want := map[string]string{
		"BilledCost": "0.012345678", "EffectiveCost": "0.012345678", "ListCost": "0.012345678", "BillingCurrency": "USD",
		"ChargePeriodStart": "2026-11-02T00:00:00Z", "ChargePeriodEnd": "2026-11-03T00:00:00Z", "ChargeCategory": "Usage",
		"BillingPeriodStart": "2026-11-01T00:00:00Z", "BillingPeriodEnd": "2026-12-01T00:00:00Z",
		"ServiceCategory": "AI and Machine Learning", "ConsumedQuantity": "1050", "ConsumedUnit": "Tokens", "SkuId": "gpt-4o",
		"SubAccountId": "data", "BillingAccountId": "acme", "ProviderName": "openai",
		"Tags": `{"app":"codex","task":"review","team":"data","user":"bob"}`, "x_Requests": "3", "x_CacheWriteTokens": "10",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %q, want %q", k, row[k], v)
		}
	}
	b.Reset()
	if err := WriteExport(&b, "csv", "", rows); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "day,team,user,provider,model,task,app,requests,input_tokens,cache_read_tokens,cache_write_5m_tokens,cache_write_1h_tokens,output_tokens,reasoning_tokens,cost_usd\n"+
		"2026-11-01,data,bob,openai,gpt-4o,review,codex,1,0,0,0,0,0,0,0.000000001\n"+
		"2026-11-02,data,bob,openai,gpt-4o,review,codex,3,1000,400,10,0,50,0,0.012345678\n" {
		t.Errorf("csv:\n%s", got)
	}
	if err := WriteExport(&b, "xml", "", rows); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("xml: %v", err)
	}
}
