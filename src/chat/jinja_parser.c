/* jinja_parser.c — tokens -> syntax tree, following jinja2's Parser production by production
 * (operator precedence, tuples, tests without parentheses, adjacent string literals...), then
 * jinja2's static scope analysis (idtracking.Symbols): which names each frame owns and how
 * each is initialized on entry (parameter / resolve from the context / alias of an outer
 * variable / undefined). That analysis is what makes a `set` inside a loop body local to one
 * iteration, exactly as in Python.
 * Refused here (clear error with line:col): template inheritance and includes, recursive loops,
 * autoescape blocks, unknown tags, filters and tests this renderer does not implement.
 * Thread rules: runs once at template creation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_internal.h"

struct parser {
	struct jinja_template *t;
	struct jtoken *tok;
	size_t n, pos;
	struct err *e;
	int loop_depth; /* for break/continue: inside a for body in the same function */
	int expr_depth; /* recursion guard for hostile templates */
	/* end-tag stack for messages */
	const char *const *end_stack[64];
	int end_depth;
};

static struct jtoken *cur(struct parser *p) { return &p->tok[p->pos]; }
static struct jtoken *peek(struct parser *p) { return &p->tok[p->pos + 1 < p->n ? p->pos + 1 : p->n - 1]; }
static struct jtoken *advance(struct parser *p)
{
	struct jtoken *t = cur(p);
	if (p->pos + 1 < p->n) p->pos++;
	return t;
}

static int pfail_at(struct parser *p, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int pfail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	char msg[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(p->e, "%s:%d:%d: %s", p->t->name, line, col, msg);
}
#define pfail(p, ...) pfail_at((p), cur(p)->line, cur(p)->col, __VA_ARGS__)

static const char *tok_desc(const struct jtoken *t)
{
	static const char *names[] = {
		[JTOK_EOF] = "end of template", [JTOK_DATA] = "template data / text",
		[JTOK_VAR_BEGIN] = "begin of print statement", [JTOK_VAR_END] = "end of print statement",
		[JTOK_BLOCK_BEGIN] = "begin of statement block", [JTOK_BLOCK_END] = "end of statement block",
		[JTOK_NAME] = "name", [JTOK_STRING] = "string", [JTOK_INT] = "integer", [JTOK_FLOAT] = "float",
		[JTOK_ADD] = "+", [JTOK_SUB] = "-", [JTOK_DIV] = "/", [JTOK_FLOORDIV] = "//", [JTOK_MUL] = "*",
		[JTOK_MOD] = "%", [JTOK_POW] = "**", [JTOK_TILDE] = "~", [JTOK_LBRACKET] = "[", [JTOK_RBRACKET] = "]",
		[JTOK_LPAREN] = "(", [JTOK_RPAREN] = ")", [JTOK_LBRACE] = "{", [JTOK_RBRACE] = "}", [JTOK_EQ] = "==",
		[JTOK_NE] = "!=", [JTOK_GT] = ">", [JTOK_GTEQ] = ">=", [JTOK_LT] = "<", [JTOK_LTEQ] = "<=",
		[JTOK_ASSIGN] = "=", [JTOK_DOT] = ".", [JTOK_COLON] = ":", [JTOK_PIPE] = "|", [JTOK_COMMA] = ",",
		[JTOK_SEMICOLON] = ";",
	};
	if (t->type == JTOK_NAME) return t->text;
	return names[t->type];
}

static bool is_name(const struct jtoken *t, const char *v) { return t->type == JTOK_NAME && !strcmp(t->text, v); }

static int expect(struct parser *p, enum jtok type)
{
	if (cur(p)->type == type) {
		advance(p);
		return 0;
	}
	static struct jtoken fake;
	fake.type = type;
	if (cur(p)->type == JTOK_EOF) return pfail(p, "unexpected end of template, expected '%s'.", tok_desc(&fake));
	return pfail(p, "expected token '%s', got '%s'", tok_desc(&fake), tok_desc(cur(p)));
}

static int expect_name(struct parser *p, const char *v)
{
	if (is_name(cur(p), v)) {
		advance(p);
		return 0;
	}
	if (cur(p)->type == JTOK_EOF) return pfail(p, "unexpected end of template, expected '%s'.", v);
	return pfail(p, "expected token '%s', got '%s'", v, tok_desc(cur(p)));
}

static struct jnode *node_new(struct parser *p, enum jnode_kind kind, const struct jtoken *at)
{
	struct jnode *n = xcalloc(1, sizeof *n);
	n->kind = kind;
	n->line = at->line;
	n->col = at->col;
	n->up = -1;
	n->slot = -1;
	struct jinja_template *t = p->t;
	JVEC_PUSH(t->nodes, t->n_nodes, t->cap_nodes, n);
	return n;
}

static void list_push(struct jnode_list *l, struct jnode *n) { JVEC_PUSH(l->v, l->n, l->cap, n); }

static struct jinja_value *immortal(struct jinja_value *v)
{
	v->flags |= JV_FLAG_IMMORTAL; /* owned by the template, shared by concurrent renders */
	return v;
}

/* ------------------------------------------------------------------ expressions */

static struct jnode *parse_expression(struct parser *p, bool with_condexpr);
static struct jnode *parse_tuple(struct parser *p, bool simplified, bool with_condexpr, const char *const *extra_end,
                                 bool explicit_parens);
static struct jnode *parse_unary(struct parser *p, bool with_filter);
static struct jnode *parse_primary(struct parser *p);
static struct jnode *parse_postfix(struct parser *p, struct jnode *node);
static struct jnode *parse_filter_expr(struct parser *p, struct jnode *node);
static struct jnode *parse_filter(struct parser *p, struct jnode *node, bool start_inline);

static bool test_any_name(const struct jtoken *t, const char *const *names)
{
	if (!names) return false;
	for (; *names; names++)
		if (is_name(t, *names)) return true;
	return false;
}

static bool is_tuple_end(struct parser *p, const char *const *extra_end)
{
	enum jtok t = cur(p)->type;
	if (t == JTOK_VAR_END || t == JTOK_BLOCK_END || t == JTOK_RPAREN) return true;
	return test_any_name(cur(p), extra_end);
}

static struct jnode *parse_condexpr(struct parser *p);

static struct jnode *parse_or(struct parser *p);

static struct jnode *parse_expression(struct parser *p, bool with_condexpr)
{
	if (p->expr_depth > 150) {
		pfail(p, "unsupported: expression nested too deeply");
		return NULL;
	}
	p->expr_depth++;
	struct jnode *n = with_condexpr ? parse_condexpr(p) : parse_or(p);
	p->expr_depth--;
	return n;
}

static struct jnode *parse_and(struct parser *p);
static struct jnode *parse_not(struct parser *p);

static struct jnode *parse_condexpr(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *expr1 = parse_or(p);
	if (!expr1) return NULL;
	while (is_name(cur(p), "if")) {
		advance(p);
		struct jnode *expr2 = parse_or(p);
		if (!expr2) return NULL;
		struct jnode *expr3 = NULL;
		if (is_name(cur(p), "else")) {
			advance(p);
			expr3 = parse_condexpr(p);
			if (!expr3) return NULL;
		}
		struct jnode *n = node_new(p, JN_CONDEXPR, start);
		n->a = expr2;
		n->b = expr1;
		n->c = expr3;
		expr1 = n;
		start = cur(p);
	}
	return expr1;
}

static struct jnode *parse_or(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *left = parse_and(p);
	if (!left) return NULL;
	while (is_name(cur(p), "or")) {
		advance(p);
		struct jnode *right = parse_and(p);
		if (!right) return NULL;
		struct jnode *n = node_new(p, JN_OR, start);
		n->a = left;
		n->b = right;
		left = n;
	}
	return left;
}

static struct jnode *parse_and(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *left = parse_not(p);
	if (!left) return NULL;
	while (is_name(cur(p), "and")) {
		advance(p);
		struct jnode *right = parse_not(p);
		if (!right) return NULL;
		struct jnode *n = node_new(p, JN_AND, start);
		n->a = left;
		n->b = right;
		left = n;
	}
	return left;
}

static struct jnode *parse_compare(struct parser *p);

static struct jnode *parse_not(struct parser *p)
{
	if (is_name(cur(p), "not")) {
		struct jtoken *t = advance(p);
		if (++p->expr_depth > 150) {
			pfail(p, "unsupported: expression nested too deeply");
			return NULL;
		}
		struct jnode *inner = parse_not(p);
		p->expr_depth--;
		if (!inner) return NULL;
		struct jnode *n = node_new(p, JN_NOT, t);
		n->a = inner;
		return n;
	}
	return parse_compare(p);
}

static struct jnode *parse_math1(struct parser *p);

static struct jnode *parse_compare(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *expr = parse_math1(p);
	if (!expr) return NULL;
	struct jnode *cmp = NULL;
	for (;;) {
		enum jtok tt = cur(p)->type;
		int op;
		struct jtoken *at = cur(p);
		if (tt == JTOK_EQ || tt == JTOK_NE || tt == JTOK_LT || tt == JTOK_LTEQ || tt == JTOK_GT || tt == JTOK_GTEQ) {
			advance(p);
			op = (int)tt;
		} else if (is_name(cur(p), "in")) {
			advance(p);
			op = JN_OP_IN;
		} else if (is_name(cur(p), "not") && is_name(peek(p), "in")) {
			advance(p);
			advance(p);
			op = JN_OP_NOTIN;
		} else {
			break;
		}
		struct jnode *rhs = parse_math1(p);
		if (!rhs) return NULL;
		if (!cmp) {
			cmp = node_new(p, JN_COMPARE, start);
			cmp->a = expr;
		}
		struct jnode *o = node_new(p, JN_OPERAND, at);
		o->op = op;
		o->a = rhs;
		list_push(&cmp->kids, o);
	}
	return cmp ? cmp : expr;
}

static struct jnode *parse_concat(struct parser *p);

static struct jnode *parse_math1(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *left = parse_concat(p);
	if (!left) return NULL;
	while (cur(p)->type == JTOK_ADD || cur(p)->type == JTOK_SUB) {
		int op = (int)advance(p)->type;
		struct jnode *right = parse_concat(p);
		if (!right) return NULL;
		struct jnode *n = node_new(p, JN_BINOP, start);
		n->op = op;
		n->a = left;
		n->b = right;
		left = n;
	}
	return left;
}

static struct jnode *parse_math2(struct parser *p);

static struct jnode *parse_concat(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *first = parse_math2(p);
	if (!first) return NULL;
	if (cur(p)->type != JTOK_TILDE) return first;
	struct jnode *n = node_new(p, JN_CONCAT, start);
	list_push(&n->kids, first);
	while (cur(p)->type == JTOK_TILDE) {
		advance(p);
		struct jnode *x = parse_math2(p);
		if (!x) return NULL;
		list_push(&n->kids, x);
	}
	return n;
}

static struct jnode *parse_pow(struct parser *p);

static struct jnode *parse_math2(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *left = parse_pow(p);
	if (!left) return NULL;
	while (cur(p)->type == JTOK_MUL || cur(p)->type == JTOK_DIV || cur(p)->type == JTOK_FLOORDIV ||
	       cur(p)->type == JTOK_MOD) {
		int op = (int)advance(p)->type;
		struct jnode *right = parse_pow(p);
		if (!right) return NULL;
		struct jnode *n = node_new(p, JN_BINOP, start);
		n->op = op;
		n->a = left;
		n->b = right;
		left = n;
	}
	return left;
}

static struct jnode *parse_pow(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *left = parse_unary(p, true);
	if (!left) return NULL;
	while (cur(p)->type == JTOK_POW) {
		advance(p);
		struct jnode *right = parse_unary(p, true);
		if (!right) return NULL;
		struct jnode *n = node_new(p, JN_BINOP, start);
		n->op = JTOK_POW;
		n->a = left;
		n->b = right;
		left = n;
	}
	return left;
}

static struct jnode *parse_unary(struct parser *p, bool with_filter)
{
	struct jtoken *t = cur(p);
	struct jnode *node;
	if (t->type == JTOK_SUB || t->type == JTOK_ADD) {
		advance(p);
		if (++p->expr_depth > 150) {
			pfail(p, "unsupported: expression nested too deeply");
			return NULL;
		}
		struct jnode *inner = parse_unary(p, false);
		p->expr_depth--;
		if (!inner) return NULL;
		node = node_new(p, t->type == JTOK_SUB ? JN_NEG : JN_POS, t);
		node->a = inner;
	} else {
		node = parse_primary(p);
	}
	if (!node) return NULL;
	node = parse_postfix(p, node);
	if (node && with_filter) node = parse_filter_expr(p, node);
	return node;
}

static struct jnode *parse_list(struct parser *p)
{
	struct jnode *n = node_new(p, JN_LIST, cur(p));
	if (expect(p, JTOK_LBRACKET)) return NULL;
	while (cur(p)->type != JTOK_RBRACKET) {
		if (n->kids.n && expect(p, JTOK_COMMA)) return NULL;
		if (cur(p)->type == JTOK_RBRACKET) break;
		struct jnode *x = parse_expression(p, true);
		if (!x) return NULL;
		list_push(&n->kids, x);
	}
	if (expect(p, JTOK_RBRACKET)) return NULL;
	return n;
}

static struct jnode *parse_dict(struct parser *p)
{
	struct jnode *n = node_new(p, JN_DICT, cur(p));
	if (expect(p, JTOK_LBRACE)) return NULL;
	while (cur(p)->type != JTOK_RBRACE) {
		if (n->kids.n && expect(p, JTOK_COMMA)) return NULL;
		if (cur(p)->type == JTOK_RBRACE) break;
		struct jnode *k = parse_expression(p, true);
		if (!k || expect(p, JTOK_COLON)) return NULL;
		struct jnode *v = parse_expression(p, true);
		if (!v) return NULL;
		list_push(&n->kids, k);
		list_push(&n->kids2, v);
	}
	if (expect(p, JTOK_RBRACE)) return NULL;
	return n;
}

static struct jnode *parse_primary(struct parser *p)
{
	struct jtoken *t = cur(p);
	struct jnode *n;
	switch (t->type) {
	case JTOK_NAME:
		advance(p);
		if (!strcmp(t->text, "true") || !strcmp(t->text, "True") || !strcmp(t->text, "false") ||
		    !strcmp(t->text, "False")) {
			n = node_new(p, JN_CONST, t);
			n->value = jinja_bool(t->text[0] == 't' || t->text[0] == 'T');
		} else if (!strcmp(t->text, "none") || !strcmp(t->text, "None")) {
			n = node_new(p, JN_CONST, t);
			n->value = jinja_none();
		} else {
			n = node_new(p, JN_NAME, t);
			n->name = xstrdup(t->text);
			n->ctx = JNAME_LOAD;
		}
		return n;
	case JTOK_STRING: {
		advance(p);
		struct buf b;
		buf_init(&b);
		buf_append(&b, t->text, t->len);
		while (cur(p)->type == JTOK_STRING) {
			buf_append(&b, cur(p)->text, cur(p)->len);
			advance(p);
		}
		n = node_new(p, JN_CONST, t);
		n->value = immortal(jv_str_buf(&b));
		return n;
	}
	case JTOK_INT:
		advance(p);
		n = node_new(p, JN_CONST, t);
		n->value = immortal(jinja_int(t->i));
		return n;
	case JTOK_FLOAT:
		advance(p);
		n = node_new(p, JN_CONST, t);
		n->value = immortal(jinja_float(t->f));
		return n;
	case JTOK_LPAREN:
		advance(p);
		n = parse_tuple(p, false, true, NULL, true);
		if (!n || expect(p, JTOK_RPAREN)) return NULL;
		return n;
	case JTOK_LBRACKET: return parse_list(p);
	case JTOK_LBRACE: return parse_dict(p);
	default: pfail(p, "unexpected '%s'", tok_desc(t)); return NULL;
	}
}

static struct jnode *parse_tuple(struct parser *p, bool simplified, bool with_condexpr, const char *const *extra_end,
                                 bool explicit_parens)
{
	struct jtoken *start = cur(p);
	struct jnode_list args = {0};
	bool is_tuple = false;
	for (;;) {
		if (args.n && expect(p, JTOK_COMMA)) goto fail;
		if (is_tuple_end(p, extra_end)) break;
		struct jnode *x = simplified ? parse_primary(p) : parse_expression(p, with_condexpr);
		if (!x) goto fail;
		list_push(&args, x);
		if (cur(p)->type == JTOK_COMMA) is_tuple = true;
		else break;
	}
	if (!is_tuple) {
		if (args.n) {
			struct jnode *r = args.v[0];
			free(args.v);
			return r;
		}
		if (!explicit_parens) {
			pfail(p, "Expected an expression, got '%s'", tok_desc(cur(p)));
			goto fail;
		}
	}
	struct jnode *n = node_new(p, JN_TUPLE, start);
	n->kids = args;
	return n;
fail:
	free(args.v);
	return NULL;
}

/* (args, kwargs, *args, **kwargs) into n->kids / kids2+kwnames / c / d */
static int parse_call_args(struct parser *p, struct jnode *n)
{
	struct jtoken *lp = cur(p);
	if (expect(p, JTOK_LPAREN)) return -1;
	bool require_comma = false;
	int nkw = 0, capkw = 0;
	while (cur(p)->type != JTOK_RPAREN) {
		if (require_comma) {
			if (expect(p, JTOK_COMMA)) return -1;
			if (cur(p)->type == JTOK_RPAREN) break;
		}
		if (cur(p)->type == JTOK_MUL) {
			if (n->c || n->d) return pfail_at(p, lp->line, lp->col, "invalid syntax for function call expression");
			advance(p);
			if (!(n->c = parse_expression(p, true))) return -1;
		} else if (cur(p)->type == JTOK_POW) {
			if (n->d) return pfail_at(p, lp->line, lp->col, "invalid syntax for function call expression");
			advance(p);
			if (!(n->d = parse_expression(p, true))) return -1;
		} else if (cur(p)->type == JTOK_NAME && peek(p)->type == JTOK_ASSIGN) {
			if (n->d) return pfail_at(p, lp->line, lp->col, "invalid syntax for function call expression");
			char *key = xstrdup(cur(p)->text);
			advance(p);
			advance(p);
			struct jnode *v = parse_expression(p, true);
			if (!v) {
				free(key);
				return -1;
			}
			JVEC_PUSH(n->kwnames, nkw, capkw, key);
			list_push(&n->kids2, v);
		} else {
			if (n->c || n->d || n->kids2.n)
				return pfail_at(p, lp->line, lp->col, "invalid syntax for function call expression");
			struct jnode *v = parse_expression(p, true);
			if (!v) return -1;
			list_push(&n->kids, v);
		}
		require_comma = true;
	}
	return expect(p, JTOK_RPAREN);
}

static struct jnode *parse_subscribed(struct parser *p)
{
	struct jtoken *start = cur(p);
	struct jnode *args[3] = {0};
	if (cur(p)->type == JTOK_COLON) {
		advance(p);
	} else {
		struct jnode *x = parse_expression(p, true);
		if (!x) return NULL;
		if (cur(p)->type != JTOK_COLON) return x;
		advance(p);
		args[0] = x;
	}
	if (cur(p)->type == JTOK_COLON) {
		/* stop = None */
	} else if (cur(p)->type != JTOK_RBRACKET && cur(p)->type != JTOK_COMMA) {
		if (!(args[1] = parse_expression(p, true))) return NULL;
	}
	if (cur(p)->type == JTOK_COLON) {
		advance(p);
		if (cur(p)->type != JTOK_RBRACKET && cur(p)->type != JTOK_COMMA)
			if (!(args[2] = parse_expression(p, true))) return NULL;
	}
	struct jnode *n = node_new(p, JN_SLICE, start);
	n->a = args[0];
	n->b = args[1];
	n->c = args[2];
	return n;
}

static struct jnode *parse_subscript(struct parser *p, struct jnode *node)
{
	struct jtoken *t = advance(p);
	if (t->type == JTOK_DOT) {
		struct jtoken *at = advance(p);
		if (at->type == JTOK_NAME) {
			struct jnode *n = node_new(p, JN_GETATTR, t);
			n->a = node;
			n->attr = xstrdup(at->text);
			return n;
		}
		if (at->type != JTOK_INT) {
			pfail_at(p, at->line, at->col, "expected name or number");
			return NULL;
		}
		struct jnode *c = node_new(p, JN_CONST, at);
		c->value = immortal(jinja_int(at->i));
		struct jnode *n = node_new(p, JN_GETITEM, t);
		n->a = node;
		n->b = c;
		return n;
	}
	/* '[' */
	struct jnode_list args = {0};
	while (cur(p)->type != JTOK_RBRACKET) {
		if (args.n && expect(p, JTOK_COMMA)) goto fail;
		struct jnode *x = parse_subscribed(p);
		if (!x) goto fail;
		list_push(&args, x);
	}
	if (expect(p, JTOK_RBRACKET)) goto fail;
	struct jnode *n = node_new(p, JN_GETITEM, t);
	n->a = node;
	if (args.n == 1) {
		n->b = args.v[0];
		free(args.v);
	} else {
		struct jnode *tup = node_new(p, JN_TUPLE, t);
		tup->kids = args;
		n->b = tup;
	}
	return n;
fail:
	free(args.v);
	return NULL;
}

static struct jnode *parse_call(struct parser *p, struct jnode *node)
{
	struct jnode *n = node_new(p, JN_CALL, cur(p));
	n->a = node;
	if (parse_call_args(p, n)) return NULL;
	return n;
}

static struct jnode *parse_postfix(struct parser *p, struct jnode *node)
{
	while (node) {
		enum jtok tt = cur(p)->type;
		if (tt == JTOK_DOT || tt == JTOK_LBRACKET) node = parse_subscript(p, node);
		else if (tt == JTOK_LPAREN) node = parse_call(p, node);
		else break;
	}
	return node;
}


/* A filter or test name, dotted as jinja2 allows ("a.b"), malloc'd; NULL after reporting the
 * error. *first (if given) receives its first token. */
static char *parse_dotted_name(struct parser *p, struct jtoken **first)
{
	struct jtoken *nt = cur(p);
	if (nt->type != JTOK_NAME) {
		expect(p, JTOK_NAME);
		return NULL;
	}
	advance(p);
	if (first) *first = nt;
	struct buf name;
	buf_init(&name);
	buf_puts(&name, nt->text);
	while (cur(p)->type == JTOK_DOT) {
		advance(p);
		if (cur(p)->type != JTOK_NAME) {
			buf_free(&name);
			expect(p, JTOK_NAME);
			return NULL;
		}
		buf_putc(&name, '.');
		buf_puts(&name, advance(p)->text);
	}
	return buf_take(&name);
}

static struct jnode *parse_test(struct parser *p, struct jnode *node)
{
	struct jtoken *is_tok = advance(p); /* 'is' */
	bool negated = false;
	if (is_name(cur(p), "not")) {
		advance(p);
		negated = true;
	}
	char *name = parse_dotted_name(p, NULL);
	if (!name) return NULL;
	struct jnode *n = node_new(p, JN_TEST, is_tok);
	n->a = node;
	n->name = name;
	n->id = jinja_test_id(n->name); /* unknown names are checked in jinja_check_names */
	enum jtok tt = cur(p)->type;
	if (tt == JTOK_LPAREN) {
		if (parse_call_args(p, n)) return NULL;
	} else if ((tt == JTOK_NAME || tt == JTOK_STRING || tt == JTOK_INT || tt == JTOK_FLOAT || tt == JTOK_LPAREN ||
	            tt == JTOK_LBRACKET || tt == JTOK_LBRACE) &&
	           !is_name(cur(p), "else") && !is_name(cur(p), "or") && !is_name(cur(p), "and")) {
		if (is_name(cur(p), "is")) {
			pfail(p, "You cannot chain multiple tests with is");
			return NULL;
		}
		struct jnode *arg = parse_primary(p);
		if (!arg) return NULL;
		arg = parse_postfix(p, arg);
		if (!arg) return NULL;
		list_push(&n->kids, arg);
	}
	if (negated) {
		struct jnode *no = node_new(p, JN_NOT, is_tok);
		no->a = n;
		return no;
	}
	return n;
}

static struct jnode *parse_filter(struct parser *p, struct jnode *node, bool start_inline)
{
	while (cur(p)->type == JTOK_PIPE || start_inline) {
		if (!start_inline) advance(p);
		struct jtoken *nt;
		char *name = parse_dotted_name(p, &nt);
		if (!name) return NULL;
		struct jnode *n = node_new(p, JN_FILTER, nt);
		n->a = node;
		n->name = name;
		n->id = jinja_filter_id(n->name); /* unknown names are checked in jinja_check_names */
		if (cur(p)->type == JTOK_LPAREN && parse_call_args(p, n)) return NULL;
		node = n;
		start_inline = false;
	}
	return node;
}

static struct jnode *parse_filter_expr(struct parser *p, struct jnode *node)
{
	while (node) {
		enum jtok tt = cur(p)->type;
		if (tt == JTOK_PIPE) node = parse_filter(p, node, false);
		else if (is_name(cur(p), "is")) node = parse_test(p, node);
		else if (tt == JTOK_LPAREN) node = parse_call(p, node);
		else break;
	}
	return node;
}

/* ------------------------------------------------------------------ assignment targets */

static void set_ctx(struct jnode *n, int ctx)
{
	if (n->kind == JN_NAME) n->ctx = ctx;
	else if (n->kind == JN_TUPLE)
		for (int i = 0; i < n->kids.n; i++) set_ctx(n->kids.v[i], ctx);
}

static bool can_assign(const struct jnode *n)
{
	if (n->kind == JN_NAME)
		return strcmp(n->name, "true") && strcmp(n->name, "false") && strcmp(n->name, "none") &&
		       strcmp(n->name, "True") && strcmp(n->name, "False") && strcmp(n->name, "None");
	if (n->kind == JN_NSREF) return true;
	if (n->kind == JN_TUPLE) {
		for (int i = 0; i < n->kids.n; i++)
			if (!can_assign(n->kids.v[i])) return false;
		return true;
	}
	return false;
}

static const char *node_kind_name(const struct jnode *n)
{
	switch (n->kind) {
	case JN_CONST: return "const";
	case JN_TUPLE: return "tuple";
	case JN_LIST: return "list";
	case JN_DICT: return "dict";
	case JN_GETATTR: return "getattr";
	case JN_GETITEM: return "getitem";
	case JN_CALL: return "call";
	default: return "expression";
	}
}

static struct jnode *parse_assign_target(struct parser *p, bool with_tuple, bool name_only, const char *const *extra_end,
                                         bool with_namespace)
{
	struct jnode *target;
	if (with_namespace && peek(p)->type == JTOK_DOT) {
		struct jtoken *nt = cur(p);
		if (nt->type != JTOK_NAME) {
			expect(p, JTOK_NAME);
			return NULL;
		}
		advance(p);
		advance(p); /* dot */
		struct jtoken *at = cur(p);
		if (at->type != JTOK_NAME) {
			expect(p, JTOK_NAME);
			return NULL;
		}
		advance(p);
		target = node_new(p, JN_NSREF, nt);
		target->name = xstrdup(nt->text);
		target->attr = xstrdup(at->text);
	} else if (name_only) {
		struct jtoken *nt = cur(p);
		if (nt->type != JTOK_NAME) {
			expect(p, JTOK_NAME);
			return NULL;
		}
		advance(p);
		target = node_new(p, JN_NAME, nt);
		target->name = xstrdup(nt->text);
		target->ctx = JNAME_STORE;
	} else {
		target = with_tuple ? parse_tuple(p, true, true, extra_end, false) : parse_primary(p);
		if (!target) return NULL;
		set_ctx(target, JNAME_STORE);
	}
	if (!can_assign(target)) {
		pfail_at(p, target->line, target->col, "can't assign to '%s'", node_kind_name(target));
		return NULL;
	}
	return target;
}

/* ------------------------------------------------------------------ statements */

static int subparse(struct parser *p, const char *const *end_tokens, struct jnode_list *body);

static int parse_statements(struct parser *p, const char *const *end_tokens, bool drop_needle, struct jnode_list *body)
{
	if (cur(p)->type == JTOK_COLON) advance(p);
	if (expect(p, JTOK_BLOCK_END)) return -1;
	if (subparse(p, end_tokens, body)) return -1;
	if (cur(p)->type == JTOK_EOF) {
		struct buf m;
		buf_init(&m);
		buf_puts(&m, "Unexpected end of template. Jinja was looking for the following tags: ");
		for (int i = 0; end_tokens[i]; i++) buf_printf(&m, "%s'%s'", i ? " or " : "", end_tokens[i]);
		buf_puts(&m, ".");
		int rc = pfail(p, "%s", m.data);
		buf_free(&m);
		return rc;
	}
	if (drop_needle) advance(p);
	return 0;
}

static const char *const END_FOR[] = {"endfor", "else", NULL};
static const char *const END_FOR_ONLY[] = {"endfor", NULL};
static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_IF_ONLY[] = {"endif", NULL};
static const char *const END_SET[] = {"endset", NULL};
static const char *const END_MACRO[] = {"endmacro", NULL};
static const char *const END_CALL[] = {"endcall", NULL};
static const char *const END_FILTER[] = {"endfilter", NULL};
static const char *const END_WITH[] = {"endwith", NULL};
static const char *const END_GENERATION[] = {"endgeneration", NULL};
static const char *const IN_END[] = {"in", NULL};
static const char *const RECURSIVE_END[] = {"recursive", NULL};

static struct jnode *parse_for(struct parser *p)
{
	struct jtoken *ft = advance(p);
	struct jnode *n = node_new(p, JN_FOR, ft);
	if (!(n->a = parse_assign_target(p, true, false, IN_END, false))) return NULL;
	if (expect_name(p, "in")) return NULL;
	if (!(n->b = parse_tuple(p, false, false, RECURSIVE_END, false))) return NULL;
	if (is_name(cur(p), "if")) {
		advance(p);
		if (!(n->c = parse_expression(p, true))) return NULL;
	}
	if (is_name(cur(p), "recursive")) {
		pfail(p, "unsupported: recursive for loops");
		return NULL;
	}
	int saved = p->loop_depth;
	p->loop_depth = 1;
	int rc = parse_statements(p, END_FOR, false, &n->kids);
	p->loop_depth = saved;
	if (rc) return NULL;
	if (is_name(advance(p), "else")) {
		if (parse_statements(p, END_FOR_ONLY, true, &n->kids2)) return NULL;
	}
	/* jinja2: "Can't assign to special loop variable in for-loop target" */
	struct jnode *stack[64];
	int sp = 0;
	stack[sp++] = n->a;
	while (sp) {
		struct jnode *x = stack[--sp];
		if (x->kind == JN_NAME && !strcmp(x->name, "loop")) {
			pfail_at(p, x->line, x->col, "Can't assign to special loop variable in for-loop target");
			return NULL;
		}
		if (x->kind == JN_TUPLE)
			for (int i = 0; i < x->kids.n && sp < 64; i++) stack[sp++] = x->kids.v[i];
	}
	return n;
}

static struct jnode *parse_if(struct parser *p)
{
	struct jtoken *it = advance(p);
	struct jnode *result = node_new(p, JN_IF, it), *node = result;
	for (;;) {
		if (!(node->a = parse_tuple(p, false, false, NULL, false))) return NULL;
		if (parse_statements(p, END_IF, false, &node->kids)) return NULL;
		struct jtoken *t = advance(p);
		if (is_name(t, "elif")) {
			node = node_new(p, JN_IF, cur(p));
			list_push(&result->kids2, node);
			continue;
		}
		if (is_name(t, "else")) {
			if (parse_statements(p, END_IF_ONLY, true, &result->kids3)) return NULL;
		}
		break;
	}
	return result;
}

static struct jnode *parse_set(struct parser *p)
{
	struct jtoken *st = advance(p);
	struct jnode *target = parse_assign_target(p, true, false, NULL, true);
	if (!target) return NULL;
	if (cur(p)->type == JTOK_ASSIGN) {
		advance(p);
		struct jnode *n = node_new(p, JN_ASSIGN, st);
		n->a = target;
		if (!(n->b = parse_tuple(p, false, true, NULL, false))) return NULL;
		return n;
	}
	struct jnode *n = node_new(p, JN_ASSIGN_BLOCK, st);
	n->a = target;
	if (cur(p)->type == JTOK_PIPE) {
		if (!(n->b = parse_filter(p, NULL, false))) return NULL;
	}
	if (parse_statements(p, END_SET, true, &n->kids)) return NULL;
	return n;
}

static int parse_signature(struct parser *p, struct jnode *n)
{
	if (expect(p, JTOK_LPAREN)) return -1;
	while (cur(p)->type != JTOK_RPAREN) {
		if (n->kids.n && expect(p, JTOK_COMMA)) return -1;
		struct jnode *arg = parse_assign_target(p, true, true, NULL, false);
		if (!arg) return -1;
		arg->ctx = JNAME_PARAM;
		if (cur(p)->type == JTOK_ASSIGN) {
			advance(p);
			struct jnode *d = parse_expression(p, true);
			if (!d) return -1;
			list_push(&n->kids2, d);
		} else if (n->kids2.n) {
			return pfail(p, "non-default argument follows default argument");
		}
		list_push(&n->kids, arg);
	}
	return expect(p, JTOK_RPAREN);
}

static struct jnode *parse_macro(struct parser *p)
{
	struct jtoken *mt = advance(p);
	struct jnode *n = node_new(p, JN_MACRO, mt);
	struct jnode *nm = parse_assign_target(p, true, true, NULL, false);
	if (!nm) return NULL;
	n->name = xstrdup(nm->name);
	if (parse_signature(p, n)) return NULL;
	int saved = p->loop_depth;
	p->loop_depth = 0;
	int rc = parse_statements(p, END_MACRO, true, &n->kids3);
	p->loop_depth = saved;
	return rc ? NULL : n;
}

static struct jnode *parse_call_block(struct parser *p)
{
	struct jtoken *ct = advance(p);
	struct jnode *n = node_new(p, JN_CALL_BLOCK, ct);
	if (cur(p)->type == JTOK_LPAREN && parse_signature(p, n)) return NULL;
	struct jnode *call = parse_expression(p, true);
	if (!call) return NULL;
	if (call->kind != JN_CALL) {
		pfail_at(p, ct->line, ct->col, "expected call");
		return NULL;
	}
	n->a = call;
	int saved = p->loop_depth;
	p->loop_depth = 0;
	int rc = parse_statements(p, END_CALL, true, &n->kids3);
	p->loop_depth = saved;
	return rc ? NULL : n;
}

static struct jnode *parse_filter_block(struct parser *p)
{
	struct jtoken *ft = advance(p);
	struct jnode *n = node_new(p, JN_FILTER_BLOCK, ft);
	if (!(n->b = parse_filter(p, NULL, true))) return NULL;
	if (parse_statements(p, END_FILTER, true, &n->kids)) return NULL;
	return n;
}

static struct jnode *parse_with(struct parser *p)
{
	struct jtoken *wt = advance(p);
	struct jnode *n = node_new(p, JN_WITH, wt);
	while (cur(p)->type != JTOK_BLOCK_END) {
		if (n->kids.n && expect(p, JTOK_COMMA)) return NULL;
		struct jnode *target = parse_assign_target(p, true, false, NULL, false);
		if (!target) return NULL;
		set_ctx(target, JNAME_PARAM);
		list_push(&n->kids, target);
		if (expect(p, JTOK_ASSIGN)) return NULL;
		struct jnode *v = parse_expression(p, true);
		if (!v) return NULL;
		list_push(&n->kids2, v);
	}
	if (parse_statements(p, END_WITH, true, &n->kids3)) return NULL;
	return n;
}

static struct jnode *parse_print(struct parser *p)
{
	struct jtoken *pt = advance(p);
	struct jnode *n = node_new(p, JN_OUTPUT, pt);
	while (cur(p)->type != JTOK_BLOCK_END) {
		if (n->kids.n && expect(p, JTOK_COMMA)) return NULL;
		struct jnode *x = parse_expression(p, true);
		if (!x) return NULL;
		list_push(&n->kids, x);
	}
	return n;
}

static struct jnode *parse_statement(struct parser *p)
{
	struct jtoken *t = cur(p);
	if (t->type != JTOK_NAME) {
		pfail(p, "tag name expected");
		return NULL;
	}
	const char *v = t->text;
	if (!strcmp(v, "for")) return parse_for(p);
	if (!strcmp(v, "if")) return parse_if(p);
	if (!strcmp(v, "set")) return parse_set(p);
	if (!strcmp(v, "macro")) return parse_macro(p);
	if (!strcmp(v, "call")) return parse_call_block(p);
	if (!strcmp(v, "filter")) return parse_filter_block(p);
	if (!strcmp(v, "with")) return parse_with(p);
	if (!strcmp(v, "print")) return parse_print(p);
	if (!strcmp(v, "break") || !strcmp(v, "continue")) {
		advance(p);
		if (!p->loop_depth) {
			pfail_at(p, t->line, t->col, "'%s' outside of a loop", v);
			return NULL;
		}
		return node_new(p, v[0] == 'b' ? JN_BREAK : JN_CONTINUE, t);
	}
	if (!strcmp(v, "generation")) { /* transformers' AssistantTracker: renders its body */
		advance(p);
		struct jnode *n = node_new(p, JN_SCOPE_BODY, t);
		int saved = p->loop_depth;
		p->loop_depth = 0;
		int rc = parse_statements(p, END_GENERATION, true, &n->kids);
		p->loop_depth = saved;
		return rc ? NULL : n;
	}
	if (!strcmp(v, "block") || !strcmp(v, "extends") || !strcmp(v, "include") || !strcmp(v, "import") ||
	    !strcmp(v, "from") || !strcmp(v, "autoescape")) {
		pfail(p, "unsupported tag '%s' (a chat template must be self-contained)", v);
		return NULL;
	}
	/* an end tag of an enclosing block reached here is a nesting mistake */
	for (int i = p->end_depth - 1; i >= 0; i--)
		for (int k = 0; p->end_stack[i][k]; k++)
			if (!strcmp(v, p->end_stack[i][k])) {
				pfail(p,
				      "Encountered unknown tag '%s'. You probably made a nesting mistake. Jinja is expecting "
				      "this tag, but currently looking for '%s'.",
				      v, p->end_stack[p->end_depth - 1][0]);
				return NULL;
			}
	pfail(p, "Encountered unknown tag '%s'.", v);
	return NULL;
}

static int subparse(struct parser *p, const char *const *end_tokens, struct jnode_list *body)
{
	struct jnode *out = NULL;
	if (end_tokens) {
		if (p->end_depth >= 64) return pfail(p, "blocks nested too deeply");
		p->end_stack[p->end_depth++] = end_tokens;
	}
	int rc = 0;
	while (cur(p)->type != JTOK_EOF) {
		struct jtoken *t = cur(p);
		if (t->type == JTOK_DATA) {
			if (!out) {
				out = node_new(p, JN_OUTPUT, t);
				list_push(body, out);
			}
			struct jnode *d = node_new(p, JN_DATA, t);
			d->value = immortal(jv_str(t->text, t->len));
			list_push(&out->kids, d);
			advance(p);
		} else if (t->type == JTOK_VAR_BEGIN) {
			advance(p);
			if (!out) {
				out = node_new(p, JN_OUTPUT, t);
				list_push(body, out);
			}
			struct jnode *x = parse_tuple(p, false, true, NULL, false);
			if (!x || expect(p, JTOK_VAR_END)) {
				rc = -1;
				break;
			}
			list_push(&out->kids, x);
		} else if (t->type == JTOK_BLOCK_BEGIN) {
			out = NULL;
			advance(p);
			if (end_tokens && test_any_name(cur(p), end_tokens)) break;
			struct jnode *st = parse_statement(p);
			if (!st || expect(p, JTOK_BLOCK_END)) {
				rc = -1;
				break;
			}
			list_push(body, st);
		} else {
			rc = pfail(p, "unexpected '%s'", tok_desc(t));
			break;
		}
	}
	if (end_tokens) p->end_depth--;
	return rc;
}

/* jinja2 resolves filters and tests when it compiles them: an unknown name is an error then,
 * except inside an `if` statement or an inline if-expression of the same frame ("soft" frames),
 * where it only fails if evaluated. Names jinja2 knows but this renderer does not implement are
 * refused right away wherever they are. */
static int check_names(struct jinja_template *t, struct jnode *n, bool soft, struct err *e);

static int check_list(struct jinja_template *t, struct jnode_list *l, bool soft, struct err *e)
{
	for (int i = 0; i < l->n; i++)
		if (check_names(t, l->v[i], soft, e)) return -1;
	return 0;
}

static int check_names(struct jinja_template *t, struct jnode *n, bool soft, struct err *e)
{
	if (!n) return 0;
	switch (n->kind) {
	case JN_FILTER:
	case JN_TEST:
		if (n->id < 0) {
			bool filt = n->kind == JN_FILTER;
			if (jinja_builtin_name_known(n->name, filt))
				return err_set(e, "%s:%d:%d: unsupported: the jinja2 %s '%s' is not implemented by this renderer",
				               t->name, n->line, n->col, filt ? "filter" : "test", n->name);
			if (!soft)
				return err_set(e, "%s:%d:%d: No %s named '%s'.", t->name, n->line, n->col, filt ? "filter" : "test",
				               n->name);
		}
		break;
	case JN_IF:
		return check_names(t, n->a, true, e) || check_list(t, &n->kids, true, e) || check_list(t, &n->kids2, true, e) ||
		               check_list(t, &n->kids3, true, e)
		           ? -1
		           : 0;
	case JN_CONDEXPR: soft = true; break;
	case JN_FOR: /* iter in this frame; body, else and loop filter are inner frames */
		return check_names(t, n->b, soft, e) || check_names(t, n->a, false, e) || check_names(t, n->c, false, e) ||
		               check_list(t, &n->kids, false, e) || check_list(t, &n->kids2, false, e)
		           ? -1
		           : 0;
	case JN_MACRO:
		return check_list(t, &n->kids2, false, e) || check_list(t, &n->kids3, false, e) ? -1 : 0;
	case JN_CALL_BLOCK:
		return check_names(t, n->a, soft, e) || check_list(t, &n->kids2, false, e) || check_list(t, &n->kids3, false, e)
		           ? -1
		           : 0;
	case JN_WITH:
		return check_list(t, &n->kids2, soft, e) || check_list(t, &n->kids3, false, e) ? -1 : 0;
	case JN_FILTER_BLOCK:
	case JN_ASSIGN_BLOCK:
	case JN_SCOPE_BODY:
		return check_names(t, n->a, soft, e) || check_names(t, n->b, false, e) || check_list(t, &n->kids, false, e)
		           ? -1
		           : 0;
	default: break;
	}
	if (check_names(t, n->a, soft, e) || check_names(t, n->b, soft, e) || check_names(t, n->c, soft, e) ||
	    check_names(t, n->d, soft, e))
		return -1;
	return check_list(t, &n->kids, soft, e) || check_list(t, &n->kids2, soft, e) || check_list(t, &n->kids3, soft, e)
	           ? -1
	           : 0;
}

int jinja_parse(struct jinja_template *t, struct jtokens *toks, struct err *e)
{
	struct parser p = {.t = t, .tok = toks->v, .n = toks->n, .e = e};
	if (subparse(&p, NULL, &t->body)) return -1;
	return check_list(t, &t->body, false, e);
}

/* ------------------------------------------------------------------ scope analysis (jinja2 idtracking) */

struct syms {
	struct syms *parent;
	int n, cap;
	char **names; /* borrowed from nodes */
	uint8_t *load;
	int ns, caps;
	char **stores;
	struct jscope *scope; /* finalized scope (for parents) */
};

static int syms_find_local(const struct syms *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name)) return i;
	return -1;
}

static bool syms_find_ref(const struct syms *s, const char *name)
{
	for (; s; s = s->parent)
		if (syms_find_local(s, name) >= 0) return true;
	return false;
}

static void syms_define(struct syms *s, const char *name, enum jload load)
{
	int i = syms_find_local(s, name);
	if (i >= 0) {
		s->load[i] = (uint8_t)load;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->names = xrealloc(s->names, (size_t)s->cap * sizeof *s->names);
		s->load = xrealloc(s->load, (size_t)s->cap);
	}
	s->names[s->n] = (char *)name;
	s->load[s->n++] = (uint8_t)load;
}

static bool syms_stored(const struct syms *s, const char *name)
{
	for (int i = 0; i < s->ns; i++)
		if (!strcmp(s->stores[i], name)) return true;
	return false;
}

static void syms_add_store(struct syms *s, const char *name)
{
	if (syms_stored(s, name)) return;
	JVEC_PUSH(s->stores, s->ns, s->caps, (char *)name);
}

static void syms_store(struct syms *s, const char *name)
{
	syms_add_store(s, name);
	if (syms_find_local(s, name) >= 0) return;
	if (s->parent && syms_find_ref(s->parent, name)) syms_define(s, name, JLOAD_ALIAS);
	else syms_define(s, name, JLOAD_UNDEFINED);
}

static void syms_param(struct syms *s, const char *name)
{
	syms_add_store(s, name);
	syms_define(s, name, JLOAD_PARAM);
}

static void syms_load(struct syms *s, const char *name)
{
	if (!syms_find_ref(s, name)) syms_define(s, name, JLOAD_RESOLVE);
}

static void syms_copy(struct syms *dst, const struct syms *src)
{
	*dst = *src;
	dst->names = xmalloc((size_t)(src->cap ? src->cap : 1) * sizeof *dst->names);
	dst->load = xmalloc((size_t)(src->cap ? src->cap : 1));
	if (src->n) {
		memcpy(dst->names, src->names, (size_t)src->n * sizeof *dst->names);
		memcpy(dst->load, src->load, (size_t)src->n);
	}
	dst->stores = xmalloc((size_t)(src->caps ? src->caps : 1) * sizeof *dst->stores);
	if (src->ns) memcpy(dst->stores, src->stores, (size_t)src->ns * sizeof *dst->stores);
}

static void syms_free(struct syms *s)
{
	free(s->names);
	free(s->load);
	free(s->stores);
}

static void syms_branch_update(struct syms *s, struct syms *br, int nbr)
{
	/* names stored in some branch but not before the if */
	char **names = NULL;
	int *counts = NULL, nn = 0, cn = 0;
	for (int b = 0; b < nbr; b++)
		for (int i = 0; i < br[b].ns; i++) {
			const char *t = br[b].stores[i];
			if (syms_stored(s, t)) continue;
			int k;
			for (k = 0; k < nn; k++)
				if (!strcmp(names[k], t)) break;
			if (k == nn) {
				JVEC_PUSH(names, nn, cn, (char *)t);
				counts = xrealloc(counts, (size_t)cn * sizeof *counts);
				counts[k] = 0;
			}
			counts[k]++;
		}
	for (int b = 0; b < nbr; b++) {
		for (int i = 0; i < br[b].n; i++) syms_define(s, br[b].names[i], (enum jload)br[b].load[i]);
		for (int i = 0; i < br[b].ns; i++) syms_add_store(s, br[b].stores[i]);
	}
	for (int k = 0; k < nn; k++) {
		if (counts[k] == nbr) continue;
		if (s->parent && syms_find_ref(s->parent, names[k])) syms_define(s, names[k], JLOAD_ALIAS);
		else syms_define(s, names[k], JLOAD_RESOLVE);
	}
	free(names);
	free(counts);
}

/* jinja2 FrameSymbolVisitor */
static void fsv_visit(struct syms *s, struct jnode *n, bool store_as_param);

static void fsv_list(struct syms *s, struct jnode_list *l)
{
	for (int i = 0; i < l->n; i++) fsv_visit(s, l->v[i], false);
}

static void fsv_generic(struct syms *s, struct jnode *n)
{
	switch (n->kind) {
	case JN_OUTPUT:
	case JN_LIST:
	case JN_TUPLE:
	case JN_CONCAT: fsv_list(s, &n->kids); break;
	case JN_DICT:
		for (int i = 0; i < n->kids.n; i++) {
			fsv_visit(s, n->kids.v[i], false);
			fsv_visit(s, n->kids2.v[i], false);
		}
		break;
	case JN_GETATTR:
	case JN_NOT:
	case JN_NEG:
	case JN_POS:
	case JN_OPERAND:
		if (n->a) fsv_visit(s, n->a, false);
		break;
	case JN_GETITEM:
	case JN_BINOP:
	case JN_AND:
	case JN_OR:
		fsv_visit(s, n->a, false);
		fsv_visit(s, n->b, false);
		break;
	case JN_SLICE:
	case JN_CONDEXPR:
		if (n->a) fsv_visit(s, n->a, false);
		if (n->b) fsv_visit(s, n->b, false);
		if (n->c) fsv_visit(s, n->c, false);
		break;
	case JN_CALL:
	case JN_FILTER:
	case JN_TEST:
		if (n->a) fsv_visit(s, n->a, false);
		fsv_list(s, &n->kids);
		fsv_list(s, &n->kids2);
		if (n->c) fsv_visit(s, n->c, false);
		if (n->d) fsv_visit(s, n->d, false);
		break;
	case JN_COMPARE:
		fsv_visit(s, n->a, false);
		fsv_list(s, &n->kids);
		break;
	default: break;
	}
}

static void fsv_visit(struct syms *s, struct jnode *n, bool store_as_param)
{
	switch (n->kind) {
	case JN_NAME:
		if (store_as_param || n->ctx == JNAME_PARAM) syms_param(s, n->name);
		else if (n->ctx == JNAME_STORE) syms_store(s, n->name);
		else syms_load(s, n->name);
		break;
	case JN_TUPLE:
		if (store_as_param) {
			for (int i = 0; i < n->kids.n; i++) fsv_visit(s, n->kids.v[i], true);
		} else {
			fsv_generic(s, n);
		}
		break;
	case JN_NSREF: syms_load(s, n->name); break;
	case JN_IF: {
		fsv_visit(s, n->a, false);
		struct syms br[3];
		struct jnode_list *lists[3] = {&n->kids, &n->kids2, &n->kids3};
		for (int b = 0; b < 3; b++) {
			syms_copy(&br[b], s);
			fsv_list(&br[b], lists[b]);
		}
		syms_branch_update(s, br, 3);
		for (int b = 0; b < 3; b++) syms_free(&br[b]);
		break;
	}
	case JN_MACRO: syms_store(s, n->name); break;
	case JN_ASSIGN:
		fsv_visit(s, n->b, false);
		fsv_visit(s, n->a, false);
		break;
	case JN_FOR: fsv_visit(s, n->b, false); break;
	case JN_CALL_BLOCK: fsv_visit(s, n->a, false); break;
	case JN_FILTER_BLOCK: fsv_visit(s, n->b, false); break;
	case JN_WITH: fsv_list(s, &n->kids2); break;
	case JN_ASSIGN_BLOCK: fsv_visit(s, n->a, false); break;
	case JN_SCOPE_BODY: break; /* a CallBlock whose call has no names */
	default: fsv_generic(s, n); break;
	}
}

/* jinja2 UndeclaredNameVisitor over nodes in field order */
struct undecl {
	const char *names[3];
	bool active[3], found[3];
	int n;
};

static void und_visit(struct undecl *u, const struct jnode *n);
static void und_list(struct undecl *u, const struct jnode_list *l)
{
	for (int i = 0; i < l->n; i++) und_visit(u, l->v[i]);
}
static void und_visit(struct undecl *u, const struct jnode *n)
{
	if (!n) return;
	if (n->kind == JN_NAME) {
		for (int i = 0; i < u->n; i++) {
			if (strcmp(u->names[i], n->name)) continue;
			if (n->ctx == JNAME_LOAD && u->active[i]) u->found[i] = true;
			else if (n->ctx != JNAME_LOAD) u->active[i] = false;
		}
		return;
	}
	switch (n->kind) {
	case JN_FOR:
		und_visit(u, n->a);
		und_visit(u, n->b);
		und_list(u, &n->kids);
		und_list(u, &n->kids2);
		und_visit(u, n->c);
		break;
	case JN_IF:
		und_visit(u, n->a);
		und_list(u, &n->kids);
		und_list(u, &n->kids2);
		und_list(u, &n->kids3);
		break;
	case JN_MACRO:
		und_list(u, &n->kids);
		und_list(u, &n->kids2);
		und_list(u, &n->kids3);
		break;
	case JN_CALL_BLOCK:
		und_visit(u, n->a);
		und_list(u, &n->kids);
		und_list(u, &n->kids2);
		und_list(u, &n->kids3);
		break;
	case JN_FILTER_BLOCK:
		und_list(u, &n->kids);
		und_visit(u, n->b);
		break;
	case JN_WITH:
		und_list(u, &n->kids);
		und_list(u, &n->kids2);
		und_list(u, &n->kids3);
		break;
	case JN_ASSIGN:
		und_visit(u, n->a);
		und_visit(u, n->b);
		break;
	case JN_ASSIGN_BLOCK:
		und_visit(u, n->a);
		und_visit(u, n->b);
		und_list(u, &n->kids);
		break;
	case JN_SCOPE_BODY: und_list(u, &n->kids); break;
	case JN_DICT:
		for (int i = 0; i < n->kids.n; i++) {
			und_visit(u, n->kids.v[i]);
			und_visit(u, n->kids2.v[i]);
		}
		break;
	case JN_OUTPUT:
	case JN_LIST:
	case JN_TUPLE:
	case JN_CONCAT: und_list(u, &n->kids); break;
	case JN_COMPARE:
		und_visit(u, n->a);
		und_list(u, &n->kids);
		break;
	case JN_CALL:
	case JN_FILTER:
	case JN_TEST:
		und_visit(u, n->a);
		und_list(u, &n->kids);
		und_list(u, &n->kids2);
		und_visit(u, n->c);
		und_visit(u, n->d);
		break;
	default:
		und_visit(u, n->a);
		und_visit(u, n->b);
		und_visit(u, n->c);
		break;
	}
}

struct analyzer {
	struct jinja_template *t;
	struct err *e;
};

static struct jscope *scope_finalize(struct analyzer *an, struct syms *s)
{
	struct jscope *sc = xcalloc(1, sizeof *sc);
	sc->parent = s->parent ? s->parent->scope : NULL;
	sc->n = s->n;
	sc->names = xcalloc((size_t)(s->n ? s->n : 1), sizeof *sc->names);
	sc->load = xcalloc((size_t)(s->n ? s->n : 1), 1);
	sc->alias_up = xcalloc((size_t)(s->n ? s->n : 1), sizeof *sc->alias_up);
	sc->alias_slot = xcalloc((size_t)(s->n ? s->n : 1), sizeof *sc->alias_slot);
	sc->loop_slot = -1;
	for (int i = 0; i < s->n; i++) {
		sc->names[i] = xstrdup(s->names[i]);
		sc->load[i] = s->load[i];
		sc->alias_up[i] = -1;
		sc->alias_slot[i] = -1;
		if (s->load[i] == JLOAD_ALIAS) {
			int up = 1;
			for (struct syms *q = s->parent; q; q = q->parent, up++) {
				int k = syms_find_local(q, s->names[i]);
				if (k >= 0) {
					sc->alias_up[i] = up;
					sc->alias_slot[i] = k;
					break;
				}
			}
		}
	}
	s->scope = sc;
	struct jinja_template *t = an->t;
	JVEC_PUSH(t->scopes, t->n_scopes, t->cap_scopes, sc);
	return sc;
}

static int resolve_node(struct analyzer *an, struct syms *s, struct jnode *n);

/* resolve names of a node list in scope s, descending into child scopes */
static int resolve_list(struct analyzer *an, struct syms *s, struct jnode_list *l)
{
	for (int i = 0; i < l->n; i++)
		if (resolve_node(an, s, l->v[i])) return -1;
	return 0;
}

static int resolve_name(struct syms *s, struct jnode *n, const char *name)
{
	int up = 0;
	for (struct syms *q = s; q; q = q->parent, up++) {
		int k = syms_find_local(q, name);
		if (k >= 0) {
			n->up = up;
			n->slot = k;
			return 0;
		}
	}
	n->up = -1; /* not a frame variable: resolved from the render context */
	return 0;
}

static void child_scope(struct syms *parent, struct syms *child)
{
	memset(child, 0, sizeof *child);
	child->parent = parent;
}

static int analyze_for(struct analyzer *an, struct syms *s, struct jnode *n)
{
	if (resolve_node(an, s, n->b)) return -1;
	/* body */
	struct syms body;
	child_scope(s, &body);
	syms_param(&body, "loop");
	fsv_visit(&body, n->a, true);
	fsv_list(&body, &n->kids);
	n->scope = scope_finalize(an, &body);
	n->scope->loop_slot = syms_find_local(&body, "loop");
	if (resolve_node(an, &body, n->a) || resolve_list(an, &body, &n->kids)) goto fail_body;
	syms_free(&body);
	/* else */
	if (n->kids2.n) {
		struct syms el;
		child_scope(s, &el);
		fsv_list(&el, &n->kids2);
		n->scope2 = scope_finalize(an, &el);
		int rc = resolve_list(an, &el, &n->kids2);
		syms_free(&el);
		if (rc) return -1;
	}
	/* loop filter test */
	if (n->c) {
		struct syms te;
		child_scope(s, &te);
		fsv_visit(&te, n->a, true);
		fsv_visit(&te, n->c, false);
		n->scope3 = scope_finalize(an, &te);
		/* the target nodes keep their body-scope slots; the test frame binds them by name */
		int rc = resolve_node(an, &te, n->c);
		syms_free(&te);
		if (rc) return -1;
	}
	return 0;
fail_body:
	syms_free(&body);
	return -1;
}

/* macro-like bodies: JN_MACRO, JN_CALL_BLOCK */
static int analyze_macro(struct analyzer *an, struct syms *s, struct jnode *n)
{
	struct undecl u = {.names = {"caller", "kwargs", "varargs"}, .active = {true, true, true}, .n = 3};
	und_list(&u, &n->kids3);
	struct syms m;
	child_scope(s, &m);
	int explicit_caller = -1;
	bool has_kwargs_arg = false, has_varargs_arg = false;
	for (int i = 0; i < n->kids.n; i++) {
		const char *a = n->kids.v[i]->name;
		if (!strcmp(a, "caller")) explicit_caller = i;
		if (!strcmp(a, "kwargs")) has_kwargs_arg = true;
		if (!strcmp(a, "varargs")) has_varargs_arg = true;
	}
	/* RootVisitor: args (params), defaults, body */
	fsv_list(&m, &n->kids);
	fsv_list(&m, &n->kids2);
	fsv_list(&m, &n->kids3);
	if (u.found[0]) {
		if (explicit_caller >= 0) {
			int ndef = n->kids2.n, nargs = n->kids.n;
			if (explicit_caller < nargs - ndef) {
				syms_free(&m);
				return err_set(an->e,
				               "%s:%d:%d: When defining macros or call blocks the special \"caller\" argument must "
				               "be omitted or be given a default.",
				               an->t->name, n->line, n->col);
			}
		} else {
			syms_param(&m, "caller");
		}
		n->accesses_caller = true;
	}
	n->explicit_caller = explicit_caller >= 0;
	if (u.found[1] && !has_kwargs_arg) {
		syms_param(&m, "kwargs");
		n->catch_kwargs = true;
	}
	if (u.found[2] && !has_varargs_arg) {
		syms_param(&m, "varargs");
		n->catch_varargs = true;
	}
	n->scope = scope_finalize(an, &m);
	int rc = resolve_list(an, &m, &n->kids) || resolve_list(an, &m, &n->kids2) || resolve_list(an, &m, &n->kids3);
	syms_free(&m);
	return rc ? -1 : 0;
}

static int resolve_node(struct analyzer *an, struct syms *s, struct jnode *n)
{
	if (!n) return 0;
	switch (n->kind) {
	case JN_NAME: return resolve_name(s, n, n->name);
	case JN_NSREF: return resolve_name(s, n, n->name);
	case JN_FOR: return analyze_for(an, s, n);
	case JN_MACRO: return resolve_name(s, n, n->name) || analyze_macro(an, s, n);
	case JN_CALL_BLOCK: return resolve_node(an, s, n->a) || analyze_macro(an, s, n);
	case JN_FILTER_BLOCK:
	case JN_SCOPE_BODY:
	case JN_ASSIGN_BLOCK:
	case JN_WITH: {
		if (n->kind == JN_ASSIGN_BLOCK && resolve_node(an, s, n->a)) return -1;
		if (n->kind == JN_WITH && resolve_list(an, s, &n->kids2)) return -1;
		struct syms in;
		child_scope(s, &in);
		struct jnode_list *body = n->kind == JN_WITH ? &n->kids3 : &n->kids;
		if (n->kind == JN_WITH) fsv_list(&in, &n->kids); /* targets are parameters */
		fsv_list(&in, body);
		if (n->kind == JN_FILTER_BLOCK) fsv_visit(&in, n->b, false); /* field order: body, filter */
		if (n->kind == JN_ASSIGN_BLOCK && n->b) fsv_visit(&in, n->b, false);
		n->scope = scope_finalize(an, &in);
		int rc = 0;
		if (n->kind == JN_WITH) rc = resolve_list(an, &in, &n->kids);
		if (!rc && (n->kind == JN_FILTER_BLOCK || n->kind == JN_ASSIGN_BLOCK)) rc = resolve_node(an, &in, n->b);
		if (!rc) rc = resolve_list(an, &in, body);
		syms_free(&in);
		return rc ? -1 : 0;
	}
	case JN_DICT:
		return resolve_list(an, s, &n->kids) || resolve_list(an, s, &n->kids2) ? -1 : 0;
	default:
		if (resolve_node(an, s, n->a) || resolve_node(an, s, n->b) || resolve_node(an, s, n->c) ||
		    resolve_node(an, s, n->d))
			return -1;
		if (resolve_list(an, s, &n->kids) || resolve_list(an, s, &n->kids2) || resolve_list(an, s, &n->kids3))
			return -1;
		return 0;
	}
}

int jinja_analyze(struct jinja_template *t, struct err *e)
{
	struct analyzer an = {.t = t, .e = e};
	struct syms root = {0};
	fsv_list(&root, &t->body);
	t->root = scope_finalize(&an, &root);
	int rc = resolve_list(&an, &root, &t->body);
	syms_free(&root);
	return rc;
}

void jinja_tree_free(struct jinja_template *t)
{
	for (size_t i = 0; i < t->n_nodes; i++) {
		struct jnode *n = t->nodes[i];
		free(n->kids.v);
		free(n->kids2.v);
		free(n->kids3.v);
		if (n->kwnames) {
			for (int k = 0; k < n->kids2.n; k++) free(n->kwnames[k]);
			free(n->kwnames);
		}
		free(n->name);
		free(n->attr);
		if (n->value && (n->value->flags & JV_FLAG_IMMORTAL) && n->value->type != JINJA_TYPE_NONE &&
		    n->value->type != JINJA_TYPE_BOOL) {
			n->value->flags &= (uint8_t)~JV_FLAG_IMMORTAL;
			jinja_unref(n->value);
		}
		free(n);
	}
	free(t->nodes);
	for (size_t i = 0; i < t->n_scopes; i++) {
		struct jscope *sc = t->scopes[i];
		for (int k = 0; k < sc->n; k++) free(sc->names[k]);
		free(sc->names);
		free(sc->load);
		free(sc->alias_up);
		free(sc->alias_slot);
		free(sc);
	}
	free(t->scopes);
	free(t->body.v);
}
