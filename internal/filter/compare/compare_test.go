package compare

import (
	"encoding/json"
	"os"
	"testing"

	"cel.dev/cel-go/cel"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// src is the example of the destinations guide.
const src = `payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`

// vars are the variables of a whatsapp message event from Sent, turned
// FAILED so that the whole expression is evaluated.
func vars(tb testing.TB) map[string]any {
	raw, err := os.ReadFile("../../../testdata/sent/f2.json")
	if err != nil {
		tb.Fatal(err)
	}
	var env struct{ Payload map[string]any }
	if err := json.Unmarshal(raw, &env); err != nil {
		tb.Fatal(err)
	}
	env.Payload["message_status"] = "FAILED"
	return map[string]any{"payload": env.Payload, "field": "message", "type": "message.failed",
		"subject": "3f2b8c1e-6a4d-4f0e-9b7a-2c5d8e1f4a60", "status": "FAILED", "headers": map[string]string{}}
}

func exprProgram(tb testing.TB) *vm.Program {
	declared := map[string]any{"payload": map[string]any{}, "field": "", "type": "", "subject": "", "status": "", "headers": map[string]string{}}
	p, err := expr.Compile(src, expr.Env(declared), expr.AsBool())
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func celProgram(tb testing.TB) cel.Program {
	env, err := cel.NewEnv(
		cel.Variable("payload", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("field", cel.StringType), cel.Variable("type", cel.StringType),
		cel.Variable("subject", cel.StringType), cel.Variable("status", cel.StringType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
	)
	if err != nil {
		tb.Fatal(err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		tb.Fatal(iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		tb.Fatal(err)
	}
	return prg
}

func TestBothAgree(t *testing.T) {
	v := vars(t)
	out, err := expr.Run(exprProgram(t), v)
	if err != nil || out != true {
		t.Fatalf("expr: %v, %v", out, err)
	}
	val, _, err := celProgram(t).Eval(v)
	if err != nil || val.Value() != true {
		t.Fatalf("cel: %v, %v", val, err)
	}
}

func BenchmarkExpr(b *testing.B) {
	p, v := exprProgram(b), vars(b)
	for b.Loop() {
		if out, err := expr.Run(p, v); err != nil || out != true {
			b.Fatal(out, err)
		}
	}
}

func BenchmarkCEL(b *testing.B) {
	p := celProgram(b)
	act, err := cel.NewActivation(vars(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if out, _, err := p.Eval(act); err != nil || out.Value() != true {
			b.Fatal(out, err)
		}
	}
}

func BenchmarkCompileExpr(b *testing.B) {
	for b.Loop() {
		exprProgram(b)
	}
}

func BenchmarkCompileCEL(b *testing.B) {
	for b.Loop() {
		celProgram(b)
	}
}
