package insights

import (
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/allot-dev/allot"
)

// ExportDims are the dimensions an export groups usage by, per UTC day.
var ExportDims = []allot.Dimension{allot.DimDay, allot.DimTeam, allot.DimUser, allot.DimProvider, allot.DimModel, allot.DimTask, allot.DimApp}

// ExportFormats are the formats WriteExport writes.
var ExportFormats = []string{"csv", "focus"}

// focusColumns are the FinOps FOCUS 1.2 columns an export fills, the
// specification's columns first (alphabetically), then allot's own,
// prefixed x_ as FOCUS requires of custom columns.
var focusColumns = []string{
	"BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
	"ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
	"ConsumedQuantity", "ConsumedUnit", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
	"PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory",
	"ServiceName", "ServiceSubcategory", "SkuId", "SubAccountId", "SubAccountName", "Tags",
	"x_User", "x_Task", "x_App", "x_Requests", "x_InputTokens", "x_CacheReadTokens", "x_CacheWriteTokens", "x_OutputTokens",
}

var csvColumns = []string{"day", "team", "user", "provider", "model", "task", "app", "requests", "input_tokens",
	"cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "cost_usd"}

// WriteExport writes report rows grouped by ExportDims as "csv" (allot's
// own columns) or "focus" (FinOps FOCUS 1.2, one Usage charge per day,
// team, person, model, task and app; account names the billing account,
// e.g. the org). Costs are exact nine-place decimals.
func WriteExport(w io.Writer, format, account string, rows []allot.ReportRow) error {
	if account == "" {
		account = "allot"
	}
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b allot.ReportRow) int { return slices.Compare(a.Dims, b.Dims) })
	cw := allot.NewCSVWriter(w) // neutralises formula-looking cells
	switch format {
	case "csv":
		if err := cw.Write(csvColumns); err != nil {
			return err
		}
		for _, r := range rows {
			t := r.Tokens
			rec := append(slices.Clone(r.Dims[:len(ExportDims)]), itoa(r.Requests), itoa(t.Input), itoa(t.CacheRead),
				itoa(t.CacheWrite5m), itoa(t.CacheWrite1h), itoa(t.Output), itoa(t.Reasoning), r.Cost.String())
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	case "focus":
		if err := cw.Write(focusColumns); err != nil {
			return err
		}
		for _, r := range rows {
			rec, err := focusRecord(account, r)
			if err != nil {
				return err
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	default:
		return allot.Errorf(allot.EInvalid, "unknown export format %q; use csv or focus", format)
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func focusRecord(account string, r allot.ReportRow) ([]string, error) {
	if len(r.Dims) < len(ExportDims) {
		return nil, allot.Errorf(allot.EInternal, "export row has %d dimensions, want %d", len(r.Dims), len(ExportDims))
	}
	day, err := time.Parse("2006-01-02", r.Dims[0])
	if err != nil {
		return nil, allot.Errorf(allot.EInternal, "export row day %q: %v", r.Dims[0], err)
	}
	team, user, provider, model, task, app := r.Dims[1], r.Dims[2], r.Dims[3], r.Dims[4], r.Dims[5], r.Dims[6]
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05Z") }
	tags, _ := json.Marshal(map[string]string{"team": team, "user": user, "task": task, "app": app})
	tokens := itoa(r.Tokens.Total())
	cost := r.Cost.String()
	desc := tokens + " tokens of " + model + " for " + task
	values := map[string]string{
		"BilledCost": cost, "BillingAccountId": account, "BillingAccountName": account, "BillingCurrency": "USD",
		"BillingPeriodEnd": ts(month.AddDate(0, 1, 0)), "BillingPeriodStart": ts(month),
		"ChargeCategory": "Usage", "ChargeClass": "", "ChargeDescription": desc, "ChargeFrequency": "Usage-Based",
		"ChargePeriodEnd": ts(day.AddDate(0, 0, 1)), "ChargePeriodStart": ts(day),
		"ConsumedQuantity": tokens, "ConsumedUnit": "Tokens", "ContractedCost": cost, "EffectiveCost": cost,
		"InvoiceIssuerName": provider, "ListCost": cost, "PricingCategory": "Standard", "PricingQuantity": tokens,
		"PricingUnit": "Tokens", "ProviderName": provider, "PublisherName": provider,
		"ServiceCategory": "AI and Machine Learning", "ServiceName": provider, "ServiceSubcategory": "Generative AI",
		"SkuId": model, "SubAccountId": team, "SubAccountName": team, "Tags": string(tags),
		"x_User": user, "x_Task": task, "x_App": app, "x_Requests": itoa(r.Requests), "x_InputTokens": itoa(r.Tokens.Input),
		"x_CacheReadTokens": itoa(r.Tokens.CacheRead), "x_CacheWriteTokens": itoa(r.Tokens.CacheWrite()), "x_OutputTokens": itoa(r.Tokens.Output),
	}
	rec := make([]string, len(focusColumns))
	for i, c := range focusColumns {
		rec[i] = values[c]
	}
	return rec, nil
}
