//! The slice of OData v4 query options the Windchill emulator understands
//! (WCCG_RESTAPIsSupportedQueryOptions.html, WCCG_RESTAPIsDateTimeOffset.html,
//! WCCG_RESTAPIsODataPreferHeader.html): a small `$filter` parser for the subset PTC lists —
//! comparisons (`eq ne gt ge lt le`) of a property with a string, DateTimeOffset or boolean
//! literal, the methods `startswith`, `endswith` and `contains` (not on `ID`), joined by
//! `and`/`or`, negated by `not`, with optional parentheses — plus `$select`,
//! `$orderby=LastModified`, `$top`, `$skiptoken` and `Prefer: odata.maxpagesize`. Anything else
//! — the `null` literal among it, which the page does not list — is refused with a 400 that
//! names the part it does not support.

use chrono::{DateTime, NaiveTime, Utc};

use super::metadata::{EdmType, PropDef, prop_type};

/// Page size when the client sends no `Prefer: odata.maxpagesize`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 25;
/// Largest page the emulator serves.
pub(crate) const MAX_PAGE_SIZE: usize = 2000;

/// A property value as the filter sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    /// Unset.
    Null,
    /// A string.
    Str(&'a str),
    /// A DateTimeOffset.
    Time(DateTime<Utc>),
    /// A boolean.
    Bool(bool),
}

/// Anything a filter can be evaluated on.
pub(crate) trait Entity {
    /// The value of a property (only called with names the schema declares).
    fn val(&self, prop: &str) -> Val<'_>;
}

/// A literal in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    /// `'text'`.
    Str(String),
    /// `2026-11-01T00:00:00Z` (unquoted).
    Time(DateTime<Utc>),
    /// `true` / `false`.
    Bool(bool),
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// Any of these.
    Or(Vec<Expr>),
    /// All of these.
    And(Vec<Expr>),
    /// `prop op literal`.
    Cmp { prop: String, op: Op, lit: Lit },
    /// `not expr`.
    Not(Box<Expr>),
    /// `startswith(prop,'text')`, `endswith(…)`, `contains(…)`.
    Method {
        method: Method,
        prop: String,
        text: String,
    },
}

/// A string method PTC lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    StartsWith,
    EndsWith,
    Contains,
}

impl Method {
    fn named(name: &str) -> Option<Method> {
        match name {
            "startswith" => Some(Method::StartsWith),
            "endswith" => Some(Method::EndsWith),
            "contains" => Some(Method::Contains),
            _ => None,
        }
    }

    fn holds(self, value: &str, text: &str) -> bool {
        match self {
            Method::StartsWith => value.starts_with(text),
            Method::EndsWith => value.ends_with(text),
            Method::Contains => value.contains(text),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Comma,
    Str(String),
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '\'' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            lit.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => lit.push(c),
                        None => return Err(format!("unterminated string literal '{lit}")),
                    }
                }
                out.push(Tok::Str(lit));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '\'' | ',') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Tok::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    props: &'a [PropDef],
}

impl Parser<'_> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.peek_word("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.primary()?];
        while self.peek_word("and") {
            self.pos += 1;
            items.push(self.primary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err("missing ')'".into()),
                }
            }
            Some(Tok::Word(w)) if w == "not" => Ok(Expr::Not(Box::new(self.primary()?))),
            Some(Tok::Word(prop)) => {
                if matches!(self.toks.get(self.pos), Some(Tok::Open)) {
                    return self.method(&prop);
                }
                let Some(ty) = prop_type(self.props, &prop) else {
                    return Err(format!("unknown property '{prop}'"));
                };
                let op = match self.next() {
                    Some(Tok::Word(op)) => match op.as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "gt" => Op::Gt,
                        "ge" => Op::Ge,
                        "lt" => Op::Lt,
                        "le" => Op::Le,
                        other => return Err(format!("unsupported operator '{other}'")),
                    },
                    other => {
                        return Err(format!(
                            "expected an operator after '{prop}', found {other:?}"
                        ));
                    }
                };
                let lit = match self.next() {
                    Some(Tok::Str(s)) => Lit::Str(s),
                    Some(Tok::Word(w)) if w == "true" => Lit::Bool(true),
                    Some(Tok::Word(w)) if w == "false" => Lit::Bool(false),
                    Some(Tok::Word(w)) if w.starts_with(|c: char| c.is_ascii_digit()) => {
                        match DateTime::parse_from_rfc3339(&w) {
                            Ok(t) => Lit::Time(t.with_timezone(&Utc)),
                            Err(_) => return Err(format!("unsupported literal '{w}'")),
                        }
                    }
                    other => return Err(format!("unsupported literal {other:?} after '{prop}'")),
                };
                let fits = match (&lit, ty) {
                    (Lit::Str(_), EdmType::String) => true,
                    (Lit::Time(_), EdmType::DateTimeOffset) => true,
                    (Lit::Bool(_), EdmType::Boolean) => matches!(op, Op::Eq | Op::Ne),
                    _ => false,
                };
                if !fits {
                    return Err(format!(
                        "unsupported comparison of '{prop}' ({ty:?}) with {lit:?}"
                    ));
                }
                Ok(Expr::Cmp { prop, op, lit })
            }
            other => Err(format!("expected a property, found {other:?}")),
        }
    }

    /// `name(prop,'text')` after `name`: one of the string methods, on a string property other
    /// than `ID` (the page: "not supported for the ID property").
    fn method(&mut self, name: &str) -> Result<Expr, String> {
        let Some(method) = Method::named(name) else {
            return Err(format!("unsupported function '{name}()'"));
        };
        let (open, prop, comma, text, close) = (
            self.next(),
            self.next(),
            self.next(),
            self.next(),
            self.next(),
        );
        match (open, prop, comma, text, close) {
            (
                Some(Tok::Open),
                Some(Tok::Word(prop)),
                Some(Tok::Comma),
                Some(Tok::Str(text)),
                Some(Tok::Close),
            ) => {
                if prop == "ID" {
                    return Err(format!("{name}() is not supported for the ID property"));
                }
                match prop_type(self.props, &prop) {
                    Some(EdmType::String) => Ok(Expr::Method { method, prop, text }),
                    Some(ty) => Err(format!("{name}() on '{prop}' ({ty:?}): a string is needed")),
                    None => Err(format!("unknown property '{prop}'")),
                }
            }
            _ => Err(format!("{name}() takes (property,'text')")),
        }
    }
}

/// Parses a `$filter` against an entity's properties.
pub(crate) fn parse_filter(s: &str, props: &[PropDef]) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(s)?,
        pos: 0,
        props,
    };
    let e = p.or()?;
    match p.toks.get(p.pos) {
        None => Ok(e),
        Some(t) => Err(format!("unsupported or unexpected token {t:?}")),
    }
}

fn day(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

fn cmp_holds<T: PartialOrd>(a: T, op: Op, b: T) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Lt => a < b,
        Op::Le => a <= b,
    }
}

impl Expr {
    /// Evaluates on `e`. Without `allow_time`, DateTimeOffset comparisons use the date part
    /// only (WCCG_RESTAPIsDateTimeOffset.html).
    pub(crate) fn eval(&self, e: &dyn Entity, allow_time: bool) -> bool {
        match self {
            Expr::Or(items) => items.iter().any(|x| x.eval(e, allow_time)),
            Expr::And(items) => items.iter().all(|x| x.eval(e, allow_time)),
            Expr::Not(x) => !x.eval(e, allow_time),
            Expr::Method { method, prop, text } => match e.val(prop) {
                Val::Str(v) => method.holds(v, text),
                _ => false,
            },
            Expr::Cmp { prop, op, lit } => match (e.val(prop), lit) {
                (Val::Null, _) => *op == Op::Ne,
                (Val::Str(a), Lit::Str(b)) => cmp_holds(a, *op, b.as_str()),
                (Val::Bool(a), Lit::Bool(b)) => cmp_holds(a, *op, *b),
                (Val::Time(a), Lit::Time(b)) if allow_time => cmp_holds(a, *op, *b),
                (Val::Time(a), Lit::Time(b)) => cmp_holds(day(a), *op, day(*b)),
                _ => false,
            },
        }
    }

    /// `(prop, value)` equalities on `indexed` properties that together select every match:
    /// an `or` of such equalities, or an `and` containing one.
    pub(crate) fn index_lookups(&self, indexed: &[&str]) -> Option<Vec<(String, String)>> {
        match self {
            Expr::Cmp {
                prop,
                op: Op::Eq,
                lit: Lit::Str(v),
            } if indexed.contains(&prop.as_str()) => Some(vec![(prop.clone(), v.clone())]),
            Expr::Or(items) => {
                let mut out = Vec::new();
                for x in items {
                    out.extend(x.index_lookups(indexed)?);
                }
                Some(out)
            }
            Expr::And(items) => items.iter().find_map(|x| x.index_lookups(indexed)),
            Expr::Cmp { .. } | Expr::Not(_) | Expr::Method { .. } => None,
        }
    }

    /// A time before which no record of `prop` can match (for a range scan of the index).
    pub(crate) fn lower_bound(&self, prop: &str, allow_time: bool) -> Option<DateTime<Utc>> {
        match self {
            Expr::Cmp {
                prop: p,
                op: Op::Ge | Op::Gt,
                lit: Lit::Time(t),
            } if p == prop => Some(if allow_time { *t } else { day(*t) }),
            Expr::Cmp { .. } | Expr::Not(_) | Expr::Method { .. } => None,
            Expr::And(items) => items
                .iter()
                .filter_map(|x| x.lower_bound(prop, allow_time))
                .max(),
            Expr::Or(items) => items
                .iter()
                .map(|x| x.lower_bound(prop, allow_time))
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .min(),
        }
    }
}

/// The query options of one collection request.
#[derive(Debug, Clone)]
pub(crate) struct CollectionQuery {
    /// Parsed `$filter`.
    pub(crate) filter: Option<Expr>,
    /// `$select` property names.
    pub(crate) select: Option<Vec<String>>,
    /// `$orderby=LastModified desc`.
    pub(crate) desc: bool,
    /// `$top`.
    pub(crate) top: Option<usize>,
    /// Offset from `$skiptoken`.
    pub(crate) offset: usize,
    /// `ptc.search.allowFilterOnTime=true`.
    pub(crate) allow_time: bool,
    /// Page size in effect.
    pub(crate) page_size: usize,
    /// Page size to echo in `Preference-Applied`, when the client asked.
    pub(crate) preference_applied: Option<usize>,
    /// Every parameter except `$skiptoken`, to rebuild `@odata.nextLink`.
    pub(crate) carry: Vec<(String, String)>,
    /// Identifies "the same query" for continuation caching.
    pub(crate) signature: String,
}

/// Reads the query options of a collection request.
pub(crate) fn collection_query(
    params: &[(String, String)],
    prefer: Option<&str>,
    props: &[PropDef],
) -> Result<CollectionQuery, String> {
    let mut q = CollectionQuery {
        filter: None,
        select: None,
        desc: false,
        top: None,
        offset: 0,
        allow_time: false,
        page_size: DEFAULT_PAGE_SIZE,
        preference_applied: None,
        carry: Vec::new(),
        signature: String::new(),
    };
    let mut filter_raw = "";
    for (k, v) in params {
        match k.as_str() {
            "$filter" => {
                q.filter = Some(parse_filter(v, props).map_err(|e| format!("$filter: {e}"))?);
                filter_raw = v;
            }
            "$select" => {
                let names: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(bad) = names.iter().find(|n| prop_type(props, n).is_none()) {
                    return Err(format!("$select: unknown property '{bad}'"));
                }
                q.select = Some(names);
            }
            "$orderby" => {
                let mut words = v.split_whitespace();
                let (prop, dir) = (words.next(), words.next());
                q.desc = match (prop, dir, words.next()) {
                    (Some("LastModified"), None | Some("asc"), None) => false,
                    (Some("LastModified"), Some("desc"), None) => true,
                    _ => {
                        return Err(format!(
                            "$orderby: unsupported ordering '{v}' (emulator supports LastModified asc|desc)"
                        ));
                    }
                };
            }
            "$top" => {
                q.top = Some(v.parse().map_err(|_| format!("$top: not a number '{v}'"))?);
            }
            "$skiptoken" => {
                q.offset = v
                    .parse()
                    .map_err(|_| format!("$skiptoken: invalid token '{v}'"))?;
                continue;
            }
            "ptc.search.allowFilterOnTime" => q.allow_time = v.eq_ignore_ascii_case("true"),
            k if k.starts_with('$') => {
                return Err(format!("unsupported query option '{k}'"));
            }
            _ => {}
        }
        q.carry.push((k.clone(), v.clone()));
    }
    if let Some(n) = prefer.and_then(max_page_size) {
        q.page_size = n.clamp(1, MAX_PAGE_SIZE);
        q.preference_applied = Some(q.page_size);
    }
    let dir = if q.desc { "desc" } else { "asc" };
    q.signature = format!("{filter_raw}|{dir}|{}|{:?}", q.allow_time, q.top);
    Ok(q)
}

/// `odata.maxpagesize=N` out of a `Prefer` header.
fn max_page_size(prefer: &str) -> Option<usize> {
    prefer
        .split([',', ';'])
        .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .find_map(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windchill::metadata::{DOCUMENT_PROPERTIES, PART_PROPERTIES};

    #[test]
    fn parses_the_contract_filters() {
        let e = parse_filter(
            "Number eq 'TR-1001' or Number eq 'O''Brien'",
            PART_PROPERTIES,
        )
        .unwrap();
        assert_eq!(
            e.index_lookups(&["Number"]),
            Some(vec![
                ("Number".into(), "TR-1001".into()),
                ("Number".into(), "O'Brien".into())
            ])
        );
        let e = parse_filter(
            "LastModified ge 2026-11-01T10:00:00Z and PartreelLinkId gt ''",
            DOCUMENT_PROPERTIES,
        )
        .unwrap();
        let t = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(e.lower_bound("LastModified", true), Some(t));
        assert_eq!(e.lower_bound("LastModified", false), Some(day(t)));
        let e = parse_filter("(Latest eq true) and (Number eq 'A')", PART_PROPERTIES).unwrap();
        assert!(matches!(e, Expr::And(_)));
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        for (f, needle) in [
            ("startswith(ID,'OR:')", "ID property"),
            ("substringof('TR',Number)", "substringof"),
            ("Number ne null", "null"),
            ("Number eq 5", "5"),
            ("Bogus eq 'x'", "Bogus"),
            ("Number in ('a')", "in"),
            ("Number eq 'x' xor", "xor"),
            ("LastModified ge '2026-01-01'", "LastModified"),
        ] {
            let err = parse_filter(f, PART_PROPERTIES).unwrap_err();
            assert!(err.contains(needle), "{f}: {err}");
        }
    }

    struct Rec(&'static str);

    impl Entity for Rec {
        fn val(&self, _prop: &str) -> Val<'_> {
            Val::Str(self.0)
        }
    }

    #[test]
    fn string_methods_and_not_evaluate_as_odata_defines_them() {
        let f = |s: &str| parse_filter(s, PART_PROPERTIES).unwrap();
        let rec = Rec("TR-1001");
        assert!(f("startswith(Number, 'TR')").eval(&rec, true));
        assert!(f("endswith(Number,'01')").eval(&rec, true));
        assert!(f("contains(Number,'-10')").eval(&rec, true));
        assert!(!f("not contains(Number,'-10')").eval(&rec, true));
        assert!(f("not (Number eq 'X' or Number eq 'Y')").eval(&rec, true));
    }
}
