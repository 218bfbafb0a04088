package contracts

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"go.starlark.net/syntax"
)

// forbiddenNames are names a contract may not use at all: built-ins whose
// results could differ between machines (float), that reach outside the
// contract (print) or that would bypass the meter (getattr calls a method
// without the method meter; dir and hasattr are their companions).
var forbiddenNames = map[string]bool{
	"float": true, "print": true, "getattr": true, "hasattr": true, "dir": true,
	"set": true, "load": true,
}

// checkExports finds the top-level EXPORTS declaration: a list or tuple
// literal of string literals, each naming a top-level def that does not
// start with "_" and is not init.
func checkExports(f *syntax.File) (names []string, hasInit bool, err error) {
	defs := map[string]bool{}
	var decl *syntax.AssignStmt
	for _, s := range f.Stmts {
		switch s := s.(type) {
		case *syntax.DefStmt:
			defs[s.Name.Name] = true
		case *syntax.AssignStmt:
			if id, ok := s.LHS.(*syntax.Ident); ok && id.Name == "EXPORTS" {
				if decl != nil {
					return nil, false, fmt.Errorf("%w: EXPORTS declared twice", ErrExports)
				}
				decl = s
			}
		}
	}
	if decl == nil {
		return nil, false, fmt.Errorf("%w: the contract must declare EXPORTS = [\"method\", ...] at top level", ErrExports)
	}
	var elems []syntax.Expr
	switch r := decl.RHS.(type) {
	case *syntax.ListExpr:
		elems = r.List
	case *syntax.TupleExpr:
		elems = r.List
	default:
		return nil, false, fmt.Errorf("%w: EXPORTS must be a list of string literals", ErrExports)
	}
	seen := map[string]bool{}
	for _, e := range elems {
		lit, ok := e.(*syntax.Literal)
		if !ok || lit.Token != syntax.STRING {
			return nil, false, fmt.Errorf("%w: EXPORTS must be a list of string literals", ErrExports)
		}
		name := lit.Value.(string)
		switch {
		case seen[name]:
			return nil, false, fmt.Errorf("%w: %q listed twice", ErrExports, name)
		case name == "init":
			return nil, false, fmt.Errorf("%w: init runs once at deploy and cannot be exported", ErrExports)
		case strings.HasPrefix(name, "_"):
			return nil, false, fmt.Errorf("%w: %q is private (leading underscore)", ErrExports, name)
		case !defs[name]:
			return nil, false, fmt.Errorf("%w: %q is not a top-level def", ErrExports, name)
		}
		seen[name] = true
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, false, fmt.Errorf("%w: no method exported", ErrExports)
	}
	return names, defs["init"], nil
}

// rewriter enforces the deploy-time rules and rewrites every operation whose
// cost is not bounded by one interpreter step into a call of a metered
// built-in whose name a contract cannot spell ($op, $index, ...). Positions
// are kept, so errors point at the contract's own source.
type rewriter struct{ err error }

func (r *rewriter) fail(pos syntax.Position, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrForbidden, pos, fmt.Sprintf(format, args...))
	}
}

func (r *rewriter) file(f *syntax.File) { f.Stmts = r.stmts(f.Stmts) }

func (r *rewriter) stmts(ss []syntax.Stmt) []syntax.Stmt {
	for i, s := range ss {
		ss[i] = r.stmt(s)
	}
	return ss
}

func ident(name string, pos syntax.Position) *syntax.Ident {
	return &syntax.Ident{Name: name, NamePos: pos}
}

func intLit(v int64, pos syntax.Position) *syntax.Literal {
	return &syntax.Literal{Token: syntax.INT, TokenPos: pos, Raw: strconv.FormatInt(v, 10), Value: v}
}

func strLit(s string, pos syntax.Position) *syntax.Literal {
	return &syntax.Literal{Token: syntax.STRING, TokenPos: pos, Raw: strconv.Quote(s), Value: s}
}

func call(name string, pos syntax.Position, args ...syntax.Expr) *syntax.CallExpr {
	return &syntax.CallExpr{Fn: ident(name, pos), Lparen: pos, Args: args, Rparen: pos}
}

// augOps maps an augmented assignment to its binary operator.
var augOps = map[syntax.Token]syntax.Token{
	syntax.PLUS_EQ: syntax.PLUS, syntax.MINUS_EQ: syntax.MINUS, syntax.STAR_EQ: syntax.STAR,
	syntax.SLASHSLASH_EQ: syntax.SLASHSLASH, syntax.PERCENT_EQ: syntax.PERCENT,
	syntax.AMP_EQ: syntax.AMP, syntax.PIPE_EQ: syntax.PIPE, syntax.CIRCUMFLEX_EQ: syntax.CIRCUMFLEX,
	syntax.LTLT_EQ: syntax.LTLT, syntax.GTGT_EQ: syntax.GTGT,
}

// pure reports whether e may be evaluated twice without a difference.
func pure(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.Ident:
		return true
	case *syntax.Literal:
		return e.Token != syntax.FLOAT
	case *syntax.UnaryExpr:
		lit, ok := e.X.(*syntax.Literal)
		return e.Op == syntax.MINUS && ok && lit.Token == syntax.INT
	}
	return false
}

// clone copies a pure expression so that no syntax node appears twice.
func clone(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.Ident:
		return ident(e.Name, e.NamePos)
	case *syntax.Literal:
		c := *e
		return &c
	case *syntax.UnaryExpr:
		return &syntax.UnaryExpr{OpPos: e.OpPos, Op: e.Op, X: clone(e.X)}
	}
	return e
}

func (r *rewriter) stmt(s syntax.Stmt) syntax.Stmt {
	switch s := s.(type) {
	case *syntax.AssignStmt:
		if s.Op == syntax.EQ {
			if ix, ok := s.LHS.(*syntax.IndexExpr); ok {
				return &syntax.ExprStmt{X: call("$setindex", ix.Lbrack, r.expr(ix.X), r.expr(ix.Y), r.expr(s.RHS))}
			}
			r.target(s.LHS)
			s.RHS = r.expr(s.RHS)
			return s
		}
		op, ok := augOps[s.Op]
		if !ok {
			r.fail(s.OpPos, "operator %s", s.Op)
			return s
		}
		switch lhs := s.LHS.(type) {
		case *syntax.Ident:
			r.target(lhs)
			s.RHS = call("$iop", s.OpPos, intLit(int64(op), s.OpPos), ident(lhs.Name, lhs.NamePos), r.expr(s.RHS))
			s.Op = syntax.EQ
			return s
		case *syntax.IndexExpr:
			if !pure(lhs.X) || !pure(lhs.Y) {
				r.fail(s.OpPos, "augmented assignment to an index needs a name and a name or literal index (x[k] %s ...)", s.Op)
				return s
			}
			x, y := r.expr(lhs.X), r.expr(lhs.Y)
			old := call("$index", lhs.Lbrack, clone(x), clone(y))
			return &syntax.ExprStmt{X: call("$setindex", lhs.Lbrack, x, y,
				call("$iop", s.OpPos, intLit(int64(op), s.OpPos), old, r.expr(s.RHS)))}
		default:
			r.fail(s.OpPos, "augmented assignment to %T", s.LHS)
			return s
		}
	case *syntax.DefStmt:
		r.def(s.Name, s.Params)
		s.Body = r.stmts(s.Body)
	case *syntax.ExprStmt:
		s.X = r.expr(s.X)
	case *syntax.IfStmt:
		s.Cond = r.expr(s.Cond)
		s.True = r.stmts(s.True)
		s.False = r.stmts(s.False)
	case *syntax.ForStmt:
		r.target(s.Vars)
		s.X = r.expr(s.X)
		s.Body = r.stmts(s.Body)
	case *syntax.WhileStmt:
		r.fail(s.While, "while loops are not allowed")
	case *syntax.LoadStmt:
		r.fail(s.Load, "load is not allowed")
	case *syntax.ReturnStmt:
		if s.Result != nil {
			s.Result = r.expr(s.Result)
		}
	case *syntax.BranchStmt:
	default:
		pos, _ := s.Span()
		r.fail(pos, "statement %T", s)
	}
	return s
}

func (r *rewriter) def(name *syntax.Ident, params []syntax.Expr) {
	if name != nil {
		r.name(name)
	}
	for _, p := range params {
		switch p := p.(type) {
		case *syntax.Ident:
			r.name(p)
		case *syntax.BinaryExpr: // name=default
			if id, ok := p.X.(*syntax.Ident); ok {
				r.name(id)
			}
			p.Y = r.expr(p.Y)
		case *syntax.UnaryExpr: // *, *args, **kwargs
			if id, ok := p.X.(*syntax.Ident); ok {
				r.name(id)
			}
		}
	}
}

func (r *rewriter) name(id *syntax.Ident) {
	if forbiddenNames[id.Name] {
		r.fail(id.NamePos, "%s is not available to contracts", id.Name)
	}
}

// target checks an assignment or loop target: names, and tuples or lists
// of names. x[k] is allowed only as the whole left side of x[k] = v.
func (r *rewriter) target(e syntax.Expr) {
	switch e := e.(type) {
	case *syntax.Ident:
		r.name(e)
	case *syntax.ParenExpr:
		r.target(e.X)
	case *syntax.TupleExpr:
		for _, x := range e.List {
			r.target(x)
		}
	case *syntax.ListExpr:
		for _, x := range e.List {
			r.target(x)
		}
	default:
		pos, _ := e.Span()
		r.fail(pos, "assignment target must be a name or a tuple of names (assign x[k] = v on its own)")
	}
}

func (r *rewriter) exprs(es []syntax.Expr) {
	for i, e := range es {
		es[i] = r.expr(e)
	}
}

func (r *rewriter) expr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.Ident:
		r.name(e)
		return e
	case *syntax.Literal:
		switch e.Token {
		case syntax.FLOAT:
			r.fail(e.TokenPos, "float literals are not allowed")
		case syntax.INT:
			if b, ok := e.Value.(*big.Int); ok && b.BitLen() > MaxIntBits {
				r.fail(e.TokenPos, "integer literal wider than %d bits", MaxIntBits)
			}
		}
		return e
	case *syntax.ParenExpr:
		e.X = r.expr(e.X)
		return e
	case *syntax.CallExpr:
		for i, a := range e.Args {
			switch a := a.(type) {
			case *syntax.UnaryExpr:
				if a.Op == syntax.STAR || a.Op == syntax.STARSTAR {
					r.fail(a.OpPos, "*args and **kwargs in calls are not allowed")
					continue
				}
			case *syntax.BinaryExpr:
				if a.Op == syntax.EQ { // name=value
					a.Y = r.expr(a.Y)
					continue
				}
			}
			e.Args[i] = r.expr(a)
		}
		if dot, ok := e.Fn.(*syntax.DotExpr); ok {
			args := append([]syntax.Expr{r.expr(dot.X), strLit(dot.Name.Name, dot.NamePos)}, e.Args...)
			return &syntax.CallExpr{Fn: ident("$method", dot.Dot), Lparen: e.Lparen, Args: args, Rparen: e.Rparen}
		}
		e.Fn = r.expr(e.Fn)
		return e
	case *syntax.DotExpr:
		return call("$attr", e.Dot, r.expr(e.X), strLit(e.Name.Name, e.NamePos))
	case *syntax.Comprehension:
		for _, c := range e.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				r.target(c.Vars)
				c.X = r.expr(c.X)
			case *syntax.IfClause:
				c.Cond = r.expr(c.Cond)
			}
		}
		if e.Curly {
			entry, ok := e.Body.(*syntax.DictEntry)
			if !ok {
				r.fail(e.Lbrack, "set comprehensions are not allowed")
				return e
			}
			pair := &syntax.TupleExpr{Lparen: entry.Colon, List: []syntax.Expr{r.expr(entry.Key), r.expr(entry.Value)}, Rparen: entry.Colon}
			list := &syntax.Comprehension{Lbrack: e.Lbrack, Body: pair, Clauses: e.Clauses, Rbrack: e.Rbrack}
			return call("$dictpairs", e.Lbrack, list)
		}
		e.Body = r.expr(e.Body)
		return e
	case *syntax.DictExpr:
		if len(e.List) == 0 {
			return e
		}
		var args []syntax.Expr
		for _, x := range e.List {
			entry := x.(*syntax.DictEntry)
			args = append(args, r.expr(entry.Key), r.expr(entry.Value))
		}
		return call("$dict", e.Lbrace, args...)
	case *syntax.LambdaExpr:
		r.def(nil, e.Params)
		e.Body = r.expr(e.Body)
		return e
	case *syntax.ListExpr:
		r.exprs(e.List)
		return e
	case *syntax.CondExpr:
		e.Cond, e.True, e.False = r.expr(e.Cond), r.expr(e.True), r.expr(e.False)
		return e
	case *syntax.TupleExpr:
		r.exprs(e.List)
		return e
	case *syntax.UnaryExpr:
		if e.X != nil {
			e.X = r.expr(e.X)
		}
		return e
	case *syntax.BinaryExpr:
		switch e.Op {
		case syntax.AND, syntax.OR:
			e.X, e.Y = r.expr(e.X), r.expr(e.Y)
			return e
		case syntax.SLASH:
			r.fail(e.OpPos, "/ is not allowed (it yields a float); use //")
			return e
		}
		return call("$op", e.OpPos, intLit(int64(e.Op), e.OpPos), r.expr(e.X), r.expr(e.Y))
	case *syntax.SliceExpr:
		arg := func(x syntax.Expr) syntax.Expr {
			if x == nil {
				return ident("$none", e.Lbrack)
			}
			return r.expr(x)
		}
		return call("$slice", e.Lbrack, r.expr(e.X), arg(e.Lo), arg(e.Hi), arg(e.Step))
	case *syntax.IndexExpr:
		return call("$index", e.Lbrack, r.expr(e.X), r.expr(e.Y))
	default:
		pos, _ := e.Span()
		r.fail(pos, "expression %T", e)
		return e
	}
}
