package otlp

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// encoding is the wire format of a request, and so of its response.
type encoding int

const (
	encUnknown encoding = iota
	encProto
	encJSON
)

func encodingOf(contentType string) encoding {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return encUnknown
	}
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return encProto
	case "application/json":
		return encJSON
	}
	return encUnknown
}

func (e encoding) contentType() string {
	if e == encProto {
		return "application/x-protobuf"
	}
	return "application/json"
}

// decode reads an OTLP payload. The *Data messages (MetricsData, LogsData,
// TracesData) have the wire format of the Export*ServiceRequest messages.
// OTLP/JSON is protobuf's JSON mapping (protojson) with two differences:
// unknown fields are ignored, as the OTLP spec asks so that a newer
// exporter can talk to an older receiver, and trace and span ids are hex,
// not base64, which fixIDs corrects after protojson has read them.
// Integers as numbers or strings, enums as numbers or names, proto or
// lowerCamelCase field names are all protojson's own.
func decode(body []byte, enc encoding, m proto.Message) error {
	if enc != encJSON {
		return proto.Unmarshal(body, m)
	}
	if err := jsonOptions.Unmarshal(body, m); err != nil {
		return err
	}
	fixIDs(m.ProtoReflect())
	return nil
}

// jsonOptions is how OTLP/JSON is read: protojson, ignoring unknown fields.
var jsonOptions = protojson.UnmarshalOptions{DiscardUnknown: true}

// gRPC status codes, used in OTLP/HTTP error bodies (google.rpc.Status).
const (
	codeInvalidArgument  = 3
	codeNotFound         = 5
	codePermissionDenied = 7
	codeUnavailable      = 14
	codeUnauthenticated  = 16
)

// writeStatus writes an OTLP error response: a google.rpc.Status message
// {code, message} in the request's encoding.
func writeStatus(w http.ResponseWriter, enc encoding, httpStatus int, code int32, msg string) {
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(httpStatus)
	if enc == encProto {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(code))
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, msg)
		_, _ = w.Write(b)
		return
	}
	_ = json.NewEncoder(w).Encode(struct {
		Code    int32  `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}

// rejectedField is the JSON name of the partial success count per signal.
var rejectedField = [...]string{sigMetrics: "rejectedDataPoints", sigLogs: "rejectedLogRecords", sigTraces: "rejectedSpans"}

// writeSuccess writes Export*ServiceResponse: empty on full success, with
// partial_success {rejected_<items> = 1, error_message = 2} otherwise.
func writeSuccess(w http.ResponseWriter, enc encoding, sig signal, rejected int64, msg string) {
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(http.StatusOK)
	if enc == encProto {
		if rejected == 0 && msg == "" {
			return
		}
		var ps []byte
		if rejected != 0 {
			ps = protowire.AppendTag(ps, 1, protowire.VarintType)
			ps = protowire.AppendVarint(ps, uint64(rejected))
		}
		if msg != "" {
			ps = protowire.AppendTag(ps, 2, protowire.BytesType)
			ps = protowire.AppendString(ps, msg)
		}
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, ps)
		_, _ = w.Write(b)
		return
	}
	if rejected == 0 && msg == "" {
		_, _ = w.Write([]byte("{}\n"))
		return
	}
	m, _ := json.Marshal(msg)
	var sb strings.Builder
	sb.WriteString(`{"partialSuccess":{"`)
	sb.WriteString(rejectedField[sig])
	sb.WriteString(`":"`)
	sb.WriteString(strconv.FormatInt(rejected, 10))
	sb.WriteString(`","errorMessage":`)
	sb.Write(m)
	sb.WriteString("}}\n")
	_, _ = w.Write([]byte(sb.String()))
}
