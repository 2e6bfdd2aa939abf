"""Hand-written templates for run_compare.py: each CASE is (name, template source, [contexts]).
They exercise what HF chat templates use beyond the GLM ones; Python jinja2 decides the
expected output (or that rendering fails)."""

MSGS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi 'there' \"you\" \\ é 😀"},
    {"role": "assistant", "content": "Hello!", "reasoning_content": "greet"},
    {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "u"}}]},
]

CASES = [
    # ---- whitespace control, trim_blocks, lstrip_blocks, comments, raw
    ("ws1", "a\n  {% if true %}\n    b\n  {% endif %}\nc\n", [{}]),
    ("ws2", "a  {%- if true -%}  b  {%- endif -%}  c", [{}]),
    ("ws3", "x\n\t {# comment #}\ny {#- c2 -#} z\n{#+ c3 +#}\nw", [{}]),
    ("ws4", "{% for i in range(3) %}\n  {{ i }}\n{% endfor %}\n", [{}]),
    ("ws5", "{% for i in range(3) +%}\n  {{ i }}\n{%+ endfor %}\nend", [{}]),
    ("ws6", "  {{ 'v' }}  {% if 1 %} t {% endif %}\n  {%- if 1 %}u{% endif %}", [{}]),
    ("ws7", "{% raw %}{{ not rendered }}{% endraw %}|{%- raw -%}  {% x %}  {%- endraw %}|", [{}]),
    ("ws8", "line1\r\nline2\r{{ 'x' }}\n\n", [{}]),
    ("ws9", "{{- ' a ' -}}\n\n{{ 'b' }}   \n{%- set x = 1 %}\n{{ x }}\u00a0\u3000{%- if 1 %}!{% endif %}", [{}]),
    ("ws10", "\u3000\u00a0{% if 1 %}L{% endif %}\n\u2003 {%- if 1 %}M{% endif %}\n \u2003{% if 1 %}N{% endif %}", [{}]),
    ("ws11", "{% if 1 %}\r\n  a\r\n{% endif %}", [{}]),
    # ---- printing values (Python str / repr)
    ("print1", "{{ none }}|{{ true }}|{{ 1.0 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ -0.0 }}|{{ 2**70 if false else 3 }}|"
               "{{ [1, 'a', none, 1.5, [true]] }}|{{ {'type': 'text', 'text': \"it's\"} }}|{{ ('a',) }}|{{ () }}",
     [{}]),
    ("print2", "{{ x }}|{{ x.a }}|{{ x['b'] }}|{{ x.c }}|{{ y }}|{{ z }}",
     [{"x": {"a": [1.0, 2.5e-7, 123456789012345678, "q'\"\\\n\t\x01\x7f\u200b\u00a0é😀"], "b": {"k": None}},
       "y": "plain", "z": 1e300}]),
    ("print3", "{{ m }}", [{"m": MSGS}]),
    ("print4", "{{ 'a' ~ none ~ 1 ~ 2.50 ~ true ~ [1] ~ undefined_thing }}", [{}]),
    ("print5", "{{ {'a': 1}.items() }}|{{ {'a': 1}.keys() }}|{{ {'a': 1}.values() }}|{{ range(3) }}|{{ range(1, 9, 2) }}",
     [{}]),
    ("print6", "{{ [1,2,3]|map('string')|list }}|{{ 'x'|safe }}|{{ ['<'|e] }}|{{ ns }}",
     [{"ns": 1}]),
    # ---- tojson
    ("json1", "{{ x|tojson }}\n{{ x|tojson(indent=2) }}\n{{ x|tojson(sort_keys=true) }}\n{{ x|tojson(ensure_ascii=true) }}\n"
              "{{ x|tojson(separators=(',', ':')) }}\n{{ x|tojson(indent='\\t') }}",
     [{"x": {"b": [1, 1.0, 1e20, -1.5e-10, None, True, "é\"\\\n\u2028😀", {}], "a": {"z": [], "y": "\x00\x1f"}}}]),
    ("json2", "{{ 'plain'|tojson }}{{ 3|tojson }}{{ none|tojson }}{{ (1, 2)|tojson }}", [{}]),
    ("json3", "{{ undefined_x|tojson }}", [{}]),
    ("json4", "{{ {1: 'a', 2.5: 'b', true: 'c', none: 'd'}|tojson }}", [{}]),
    ("json5", "{{ {'a': 1}.items()|tojson }}", [{}]),
    # ---- scoping
    ("scope1", "{% set x = 'outer' %}{% for i in range(2) %}{{ x }}{% set x = 'in' ~ i %}{{ x }}{% endfor %}{{ x }}",
     [{}]),
    ("scope2", "{% for i in range(3) %}{% if i == 1 %}{% set y = 'set' %}{% endif %}[{{ y }}]{% endfor %}[{{ y }}]",
     [{}, {"y": "ctx"}]),
    ("scope3", "{% for i in range(2) %}{{ x }}{% endfor %}{% set x = 1 %}{{ x }}", [{"x": 5}, {}]),
    ("scope4", "{{ x }}{% set x = 1 %}{{ x }}", [{"x": 5}]),
    ("scope5", "{% for i in range(2) %}{{ x }}{% set x = 3 %}{{ x }}{% endfor %}", [{"x": 5}]),
    ("scope6", "{% set ns = namespace(n=0, items=[]) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
               "{% endfor %}{{ ns.n }}|{{ ns.items }}|{{ ns.missing }}|{{ ns }}", [{}]),
    ("scope7", "{% macro m() %}{{ x }}{% endmacro %}{% set x = 'late' %}{{ m() }}", [{}, {"x": "ctx"}]),
    ("scope8", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }},{% endfor %}"
               "{{ loop.index }};{% endfor %}", [{}]),
    ("scope9", "{% for m in msgs %}{% if m.role == 'assistant' %}{% set rc = m.reasoning_content %}{% endif %}"
               "{{ rc is defined }}{{ rc }};{% endfor %}", [{"msgs": MSGS}, {"msgs": MSGS, "rc": "top"}]),
    ("scope10", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = 'xy' %}{{ c }}{{ d }}", [{}]),
    ("scope11", "{% set a, b = [1, 2, 3] %}", [{}]),
    ("scope12", "{% with x = 1, y = 2 %}{{ x + y }}{% set z = 3 %}{% endwith %}{{ x }}{{ z }}", [{}]),
    ("scope13", "{% set t %}  block {{ 1 + 1 }} {% endset %}[{{ t }}]{% set u | upper | trim %} up {% endset %}[{{ u }}]",
     [{}]),
    ("scope14", "{% filter upper %}hello {{ 'world' }}{% endfilter %}|{% filter replace('a', 'b') | title %}a cat{% endfilter %}",
     [{}]),
    ("scope15", "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", [{}]),
    ("scope16", "{% set ns = 5 %}{% set ns.x = 1 %}", [{}]),
    ("scope17", "{% for x in [1,2] %}{% set ns = namespace(v=x) %}{{ ns.v }}{% endfor %}{{ ns is defined }}", [{}]),
    # ---- loops
    ("loop1", "{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/"
              "{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem }}/{{ loop.nextitem }}/"
              "{{ loop.depth }}/{{ loop.cycle('a', 'b') }}/{{ loop.changed(x) }};{% endfor %}",
     [{"xs": ["a", "b", "b", "c"]}, {"xs": []}]),
    ("loop2", "{% for x in xs if x % 2 %}{{ x }}:{{ loop.index }}/{{ loop.length }}/{{ loop.last }},{% else %}none{% endfor %}",
     [{"xs": [1, 2, 3, 4, 5]}, {"xs": [2, 4]}]),
    ("loop3", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}"
              "{{ x }}{% endfor %}", [{}]),
    ("loop4", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}"
              "{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}{% for c in 'héllo' %}{{ c }}.{% endfor %}",
     [{"d": {"b": 1, "a": 2, "c": 3}}]),
    ("loop5", "{% for x in [1] %}{% break %}{% else %}else-ran{% endfor %}|"
              "{% for x in [1, 2] %}{% continue %}{% else %}else2{% endfor %}", [{}]),
    ("loop6", "{% for x in none %}{{ x }}{% endfor %}", [{}]),
    ("loop7", "{% for x in undefined_var %}{{ x }}{% else %}empty{% endfor %}", [{}]),
    ("loop8", "{% for a, b in [[1, 2], [3, 4]] %}{{ a * b }},{% endfor %}{% for a, b in [[1, 2, 3]] %}{% endfor %}", [{}]),
    ("loop9", "{% set ns = namespace(f=true) %}{% for x in [1, 2, 3, 4] if ns.f %}{{ x }}{% if x == 2 %}{% set ns.f = false %}"
              "{% endif %}{% endfor %}", [{}]),
    ("loop10", "{% for x in [3, 1] %}{{ loop.last }}{% set outer = loop %}{% for y in [1] %}{{ outer.index }}{{ loop.index }}"
               "{% endfor %}{% endfor %}", [{}]),
    ("loop11", "{% for m in messages %}{{ m.role }}:{{ m.content if m.content is string else m.content|map(attribute='type')|join('+') }}"
               "{% if not loop.last %} | {% endif %}{% endfor %}", [{"messages": MSGS}]),
    # ---- macros
    ("macro1", "{% macro greet(name, greeting='Hello', punct='!') -%}{{ greeting }}, {{ name }}{{ punct }}{%- endmacro %}"
               "{{ greet('A') }}|{{ greet('B', 'Hi') }}|{{ greet(name='C', punct='?') }}|{{ greet() }}", [{}]),
    ("macro2", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", [{}]),
    ("macro3", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", [{}]),
    ("macro4", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, b=2) }}", [{}]),
    ("macro5", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
               "{% call wrap('b') %}inner {{ 1 + 2 }}{% endcall %}|"
               "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
               "{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}", [{}]),
    ("macro6", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}"
               "{{ fact(5) }}|{{ fact }}|{{ fact(3).strip() ~ '!' }}", [{}]),
    ("macro7", "{% macro m(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ m('x') }}{{ m('y', 'z') }}", [{}]),
    ("macro8", "{% macro outer() %}{% macro inner(x) %}<{{ x }}>{% endmacro %}{{ inner(1) }}{{ inner(2) }}{% endmacro %}"
               "{{ outer() }}{{ inner is defined }}", [{}]),
    ("macro9", "{% macro m() %}{% set local = 1 %}{{ local }}{% endmacro %}{{ m() }}{{ local }}", [{}]),
    ("macro10", "{%- macro render_content(c) -%}{%- if c is string -%}{{ c }}{%- else -%}{%- for p in c -%}"
                "{%- if p.type == 'text' %}{{ p.text }}{% elif p.type == 'image_url' %}<img>{% endif -%}{%- endfor -%}"
                "{%- endif -%}{%- endmacro -%}{% for m in messages %}<{{ m.role }}>{{ render_content(m.content) }}"
                "{% endfor %}", [{"messages": MSGS}]),
    # ---- filters
    ("filt1", "{{ ' a b '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'aXb'|lower }}|{{ 'aXb'|upper }}|{{ 'hello wORLD-foo(bar'|title }}|"
              "{{ 'hello World'|capitalize }}|{{ 'ß ﬁ é'|upper }}|{{ 'ÉÀ'|lower }}|{{ 'a'|center(7) }}|{{ 'ab'|center(7) }}", [{}]),
    ("filt2", "{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'a', 'C']|sort }}|{{ ['b', 'A', 'a']|sort(case_sensitive=true) }}|"
              "{{ [3, 1, 2]|sort(reverse=true) }}|{{ users|sort(attribute='age')|map(attribute='name')|join(',') }}|"
              "{{ users|sort(attribute='age,name')|map(attribute='name')|join(',') }}",
     [{"users": [{"name": "b", "age": 3}, {"name": "a", "age": 1}, {"name": "c", "age": 3}]}]),
    ("filt3", "{{ ['b', 'A', 'a', 'b']|unique|list }}|{{ [1, 2, 1]|unique|list }}|{{ [1, 2]|reverse|list }}|{{ 'abc'|reverse }}|"
              "{{ [3, 1, 2]|min }}|{{ [3, 1, 2]|max }}|{{ ['a', 'B']|max }}|{{ []|max }}|{{ [1, 2, 3]|sum }}|{{ [1.5, 2]|sum(start=1) }}",
     [{}]),
    ("filt4", "{{ [1, 2, 3, 4]|select('even')|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ [0, 1, '', 'a']|select|list }}|"
              "{{ xs|selectattr('a')|list }}|{{ xs|rejectattr('a')|list }}|{{ xs|selectattr('a', 'equalto', 2)|list }}|"
              "{{ [1, 5, 10]|select('>', 3)|list }}|{{ [1, 5, 10]|select('in', [1, 10])|list }}|"
              "{{ xs|map(attribute='a', default='D')|list }}|{{ xs|map(attribute='b.c')|list }}",
     [{"xs": [{"a": 1}, {"a": 0}, {"a": 2}, {"b": {"c": "deep"}}]}]),
    ("filt5", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('> ') }}|"
              "{{ 'one two  three'|wordcount }}|{{ 'héllo wörld_x 42'|wordcount }}", [{}]),
    ("filt6", "{{ '42'|int }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(-1) }}|{{ '0x1A'|int(0, 16) }}|{{ '0b101'|int(base=0) }}|"
              "{{ 3.99|int }}|{{ -3.99|int }}|{{ true|int }}|{{ '1.5'|float }}|{{ 'nan'|float }}|{{ 'x'|float }}|{{ 2|float }}|"
              "{{ ' 7 '|int }}|{{ '1_000'|int }}|{{ none|int }}", [{}]),
    ("filt7", "{{ -3|abs }}|{{ -2.5|abs }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(0, 'ceil') }}|"
              "{{ 2.9|round(method='floor') }}|{{ 7|round }}|{{ 1.23456|round(3) }}", [{}]),
    ("filt8", "{{ x|default('d') }}|{{ none|default('d') }}|{{ ''|default('d', true) }}|{{ 0|d('z', boolean=true) }}|"
              "{{ x|d }}|{{ [1, 2, 3]|first }}|{{ [1, 2, 3]|last }}|{{ 'abc'|first }}|{{ {'k': 1, 'j': 2}|first }}|{{ []|last }}|"
              "{{ [1, 2]|length }}|{{ 'héllo'|length }}|{{ {'a': 1}|count }}|{{ x|length }}", [{}]),
    ("filt9", "{{ ['a', 1, none]|join(', ') }}|{{ xs|join(',', attribute='n') }}|{{ 'abc'|list }}|{{ {'a': 1}|list }}|"
              "{{ 'a-b-a'|replace('a', 'x') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|replace('', '-') }}|{{ 5|string ~ 'x' }}|"
              "{{ 'abc def ghi'|truncate(9) }}|{{ 'abcdefghijklmnop'|truncate(10, true) }}|{{ 'a b c d e f g h'|truncate(7, leeway=0) }}",
     [{"xs": [{"n": 1}, {"n": 2}]}]),
    ("filt10", "{{ 'Hi %s, %d items (%.2f)'|format('Bob', 3, 2.5) }}|{{ '%(a)s-%(b)r'|format(a=1, b='q') }}|"
               "{{ '%5s|%-5s|%05d|%x|%%'|format('ab', 'cd', 42, 255) }}|{{ '%s' % 'solo' }}|{{ '%s and %s' % (1, 2) }}", [{}]),
    ("filt11", "{{ [1, 2, 3, 4, 5]|batch(2)|list }}|{{ [1, 2, 3, 4, 5]|batch(2, 0)|list }}|{{ [1, 2, 3, 4, 5]|slice(2)|list }}|"
               "{{ [1, 2, 3, 4]|slice(3, 'x')|list }}", [{}]),
    ("filt12", "{{ d|items|list }}|{{ d|dictsort(by='value') }}|{{ d|dictsort(reverse=true) }}|{{ undefined_x|items|list }}|"
               "{{ '<a href=\"x\">&\\'</a>'|e }}|{{ '<b>'|safe }}|{{ ('<b>'|safe + '<i>') }}|{{ '<i>' + '<b>'|safe }}|"
               "{{ '<x>'|escape|escape }}|{{ '<x>'|forceescape }}|{{ 'a'|attr('upper')() }}|{{ d|attr('a') }}",
     [{"d": {"b": 2, "a": 3, "c": 1}}]),
    ("filt13", "{{ 'Ab'|unique|list }}|{{ [{'a': 1}, {'a': 1}]|unique(attribute='a')|list }}|{{ ['a', 'A']|unique(true)|list }}|"
               "{{ [1, 'a']|sort }}", [{}]),
    ("filt14", "{{ none|length }}", [{}]),
    ("filt15", "{{ [1, 2]|map('nosuchfilter')|list }}", [{}]),
    ("filt16", "{{ {'a': 1}|items|list }}{{ 5|items|list }}", [{}]),
    # ---- tests
    ("tests1", "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 1 is number }}{{ true is number }}{{ true is integer }}"
               "{{ 1.0 is float }}{{ 1 is integer }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ {} is sequence }}"
               "{{ 'a' is iterable }}{{ 3 is iterable }}{{ none is iterable }}{{ y is iterable }}{{ y is sequence }}"
               "{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}"
               "{{ 4 is even }}{{ 3 is odd }}{{ 3.0 is odd }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}"
               "{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'aB' is lower }}{{ 2 is in [1, 2] }}{{ 'b' in 'abc' }}"
               "{{ 1 is eq 1.0 }}{{ 2 is gt 1 }}{{ 2 is lessthan 1 }}{{ 2 is ne 3 }}{{ x is sameas x }}{{ none is sameas none }}"
               "{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}{{ x is callable }}{{ range is callable }}"
               "{{ y is callable }}{{ '<'|e is escaped }}{{ 'x' is escaped }}{{ x is not none }}{{ not x is none }}",
     [{"x": 1}]),
    ("tests2", "{{ 'a' is odd }}", [{}]),
    ("tests3", "{% if messages[0].role is defined and messages[0]['content'] is string %}ok{% endif %}"
               "{{ messages[9] is defined }}{{ messages[0].nope is defined }}", [{"messages": MSGS}]),
    # ---- slicing, indexing, attribute access
    ("slice1", "{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}|{{ 'hello'[-3:] }}|{{ 'héllo wörld'[1:8:2] }}|{{ [1, 2, 3, 4][1:] }}|"
               "{{ [1, 2, 3, 4][::2] }}|{{ [1, 2, 3, 4][-2::-1] }}|{{ (1, 2, 3)[1:] }}|{{ 'abc'[5:] }}|{{ 'abc'[-10:2] }}|"
               "{{ range(10)[2:5] }}|{{ range(10)[::-1]|list }}|{{ messages[-1].role }}|{{ messages[:2]|length }}|{{ 'abc'[1] }}|"
               "{{ 'abc'[-1] }}|{{ 'abc'[7] }}|{{ [1][3] }}|{{ {'a': 1}['a'] }}|{{ {'a': 1}.a }}",
     [{"messages": MSGS}]),
    ("slice2", "{{ [1, 2][::0] }}", [{}]),
    ("slice3", "{{ x[1.0:] }}", [{"x": "abc"}]),
    ("slice4", "{{ x[1:] }}", [{"x": 1}, {"x": None}, {"x": {"a": 1}}, {"x": True}]),
    ("slice5", "{{ y[:2] }}", [{}]),
    ("slice6", "{{ x[:n] }}|{{ x[n:] }}", [{"x": [1, 2, 3], "n": 2}, {"x": "héllo", "n": -2}, {"x": [1], "n": None}]),
    ("slice7", "{{ x[:n] }}", [{"x": [1, 2, 3]}]),
    ("slice8", "{{ (x|map('string'))[1:] }}", [{"x": [1, 2]}]),
    ("attr1", "{{ d['items'] }}{{ d.get('x', 'dflt') }}{{ d.get('items') }}{{ d.keys()|list }}{{ d.values()|list }}"
              "{{ none.x }}|{{ 'abc'.foo }}", [{"d": {"items": "ITEMS", "x": None}}]),
    ("attr2", "{{ undefined_x.attr }}", [{}]),
    ("attr3", "{{ undefined_x['k'] }}", [{}]),
    ("attr4", "{{ [].append }}|{{ {}.update }}", [{}]),
    ("attr5", "{{ [].append(1) }}", [{}]),
    ("attr6", "{{ foo.__class__ }}|{{ foo.__class__ is defined }}|{{ d.__nope__ }}|{{ d.__class__ }}",
     [{"foo": "s", "d": {"__nope__": "item"}}, {"d": {}}]),
    ("attr7", "{{ foo.__nope__ }}", [{}]),
    ("attr8", "{{ foo.__class__() }}", [{}]),
    ("sameas", "{{ x is sameas x }}{{ y is sameas y }}{{ none is sameas none }}{{ [] is sameas [] }}{{ y is sameas none }}",
     [{"y": None}]),
    ("soft1", "{% if false %}{{ x|nosuch }}{% elif x is nosuchtest %}y{% else %}ok{% endif %}{{ 1 if true else x|nosuch2 }}"
              "{% if true %}{% set v = 2 %}{% endif %}{{ v }}{{ 'upper' is filter }}{{ 'groupby' is filter }}{{ 'nosuch' is filter }}",
     [{}]),
    ("soft2", "{% if true %}{{ x|nosuch }}{% endif %}", [{}]),
    ("soft3", "{% if x is nosuchtest %}{% endif %}", [{}]),
    ("soft4", "{{ x|nosuch if false }}", [{}]),
    ("slice9", "{{ [1, 2][::, 0] }}|{{ {'a': 1}[:, 1] }}", [{}]),
    ("strftime", "{{ strftime_now('%Y')|length }}|{{ strftime_now('literal') }}", [{}]),
    # ---- string methods
    ("str1", "{{ 'a,b,,c'.split(',') }}|{{ ' a  b \\t c '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|"
             "{{ '  x y  '.split(none, 1) }}|{{ '  x y  '.rsplit(none, 1) }}|{{ 'l1\\nl2\\r\\nl3'.splitlines() }}|"
             "{{ 'l1\\nl2\\n'.splitlines(true) }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.startswith(('x', 'a')) }}"
             "{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith('b', 1) }}|{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}"
             "{{ 'hello'.find('z') }}{{ 'héllo'.find('l') }}|{{ 'a-b'.replace('-', '+') }}|{{ '  pad  '.strip() }}|"
             "{{ 'xxpadxx'.strip('x') }}|{{ '  pad  '.lstrip() }}|{{ '  pad  '.rstrip() }}|{{ 'abc'.upper() }}{{ 'ABC'.lower() }}|"
             "{{ 'hello world'.title() }}|{{ 'hello'.capitalize() }}|{{ ', '.join(['a', 'b']) }}|{{ 'banana'.count('an') }}|"
             "{{ 'a=b=c'.partition('=') }}|{{ 'a=b=c'.rpartition('=') }}|{{ 'abc'.removeprefix('a') }}{{ 'abc'.removesuffix('c') }}|"
             "{{ '42'.isdigit() }}{{ 'ab'.isalpha() }}{{ 'a1'.isalnum() }}{{ ' '.isspace() }}{{ 'ab'.islower() }}{{ 'AB'.isupper() }}|"
             "{{ '7'.zfill(3) }}{{ '-7'.zfill(3) }}|{{ 'ab'.ljust(4, '*') }}{{ 'ab'.rjust(4) }}{{ 'ab'.center(5, '.') }}|"
             "{{ '{} and {}'.format(1, 'two') }}|{{ '{0}{0}{name}'.format('x', name='y') }}|{{ 'ǅungla'.upper() }}", [{}]),
    ("str2", "{{ 'abc'.index('z') }}", [{}]),
    ("str3", "{{ 'x'.split('') }}", [{}]),
    ("str4", "{% set content = '<think>\\nreason\\n</think>\\n\\nanswer' %}"
             "{{ content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|"
             "{{ content.split('</think>')[-1].lstrip('\\n') }}|{{ content.split('</think>')|length }}", [{}]),
    # ---- operators
    ("ops1", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 / 2 }} "
             "{{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 * 3 + 4 }} {{ 2 * (3 + 4) }} {{ 'ab' * 3 }} "
             "{{ [0] * 2 }} {{ 3 * 'x' }} {{ 1 + 2.5 }} {{ true + 1 }} {{ [1] + [2] }} {{ 'a' + 'b' }} {{ 0.1 + 0.2 }} "
             "{{ 10 - 2.5 }} {{ 1e308 * 10 }} {{ -(3) }} {{ +3 }} {{ 2 ** 0.5 }}", [{}]),
    ("ops2", "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ none == none }}"
             "{{ 1 in [1.0] }}{{ 'x' not in 'abc' }}{{ 'k' in {'k': 1} }}{{ 'a' in undefined_y }}{{ 1 and 'yes' }}{{ 0 or '' or 'last' }}"
             "{{ not 0 }}{{ none or 'd' }}{{ [] or {} }}{{ 'x' if 1 else 'y' }}{{ 'x' if 0 else 'y' }}[{{ 'x' if 0 }}]"
             "{{ 1 if true else 2 if true else 3 }}{{ (1, 2) == (1, 2) }}{{ [1, 2] == (1, 2) }}", [{}]),
    ("ops3", "{{ 1 < 'a' }}", [{}]),
    ("ops4", "{{ 'a' + 1 }}", [{}]),
    ("ops5", "{{ 1 / 0 }}", [{}]),
    ("ops6", "{{ undefined_z + 1 }}", [{}]),
    ("ops7", "{{ 1 in none }}", [{}]),
    ("ops8", "{{ -'a' }}", [{}]),
    # ---- literals
    ("lit1", "{{ 'a\\tb\\\\c\\x41\\u00e9\\U0001F600\\101\\d\\'\"' }}|{{ \"dq \\\"x\\\" 'y'\" }}|{{ 'adj' 'acent' }}|"
             "{{ 1_000 }}|{{ 0x1F }}|{{ 0o17 }}|{{ 0b101 }}|{{ 1.5e3 }}|{{ 2E-2 }}|{{ [1, 2,] }}|{{ {'a': 1,} }}|{{ True }}{{ False }}{{ None }}"
             "|{{ 'é\\é' }}", [{}]),
    # ---- globals
    ("glob1", "{{ range(3)|list }}{{ range(1, 4)|list }}{{ range(5, 0, -2)|list }}{{ dict(a=1, b=2) }}{{ dict([('x', 1)]) }}"
              "{% set j = joiner('|') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}"
              "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}{{ namespace(a=1).a }}", [{}]),
    ("glob2", "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", [{}]),
    ("glob3", "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user, got ' ~ messages[0].role) }}"
              "{% endif %}ok", [{"messages": MSGS}, {"messages": MSGS[1:]}]),
    ("glob4", "{{ range(200000)|length }}", [{}]),
    ("glob5", "{{ nosuch() }}", [{}]),
    ("glob6", "{{ messages.append }}{{ 5() }}", [{"messages": []}]),
    # ---- HF-style chat templates (written for this test)
    ("chat1", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}<<SYS>>\\n{{ message['content'] }}\\n<</SYS>>\\n\\n"
              "{% elif message['role'] == 'user' %}[INST] {{ message['content'] if message['content'] is string else "
              "message['content'][0]['text'] }} [/INST]{% elif message['role'] == 'assistant' %} {{ message['content'] }} {{ eos_token }}"
              "{% endif %}{% endfor %}", [{"messages": MSGS, "bos_token": "<s>", "eos_token": "</s>"}]),
    ("chat2", "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}"
              "{%- endif %}{{- '# Tools\\n<tools>' }}{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
              "{{- '\\n</tools><|im_end|>\\n' }}{%- elif messages[0].role == 'system' %}"
              "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}"
              "{%- for message in messages %}{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
              "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
              "{%- elif message.role == 'assistant' %}{{- '<|im_start|>' + message.role }}{%- if message.content %}"
              "{{- '\\n' + message.content }}{%- endif %}{%- for tool_call in message.tool_calls %}"
              "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
              "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}"
              "{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}{%- endfor %}{{- '<|im_end|>\\n' }}"
              "{%- elif message.role == 'tool' %}{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != 'tool') %}"
              "{{- '<|im_start|>user' }}{%- endif %}{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}"
              "{%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}{{- '<|im_end|>\\n' }}{%- endif %}{%- endif %}"
              "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
     [{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                    {"role": "assistant", "content": "", "tool_calls": [
                        {"type": "function", "function": {"name": "f", "arguments": {"a": 1.0, "b": "二"}}}]},
                    {"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"}],
       "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}],
       "add_generation_prompt": True}]),
    ("chat3", "{%- set ns = namespace(sys='', first=true) -%}{%- for m in messages -%}{%- if m.role == 'system' -%}"
              "{%- set ns.sys = ns.sys ~ m.content -%}{%- endif -%}{%- endfor -%}"
              "{%- for m in messages | rejectattr('role', 'equalto', 'system') -%}"
              "{%- if (m.role == 'user') != (loop.index0 % 2 == 0) -%}{{ raise_exception('roles must alternate') }}{%- endif -%}"
              "{%- if m.role == 'user' -%}<start_of_turn>user\\n{% if ns.first and ns.sys %}{{ ns.sys }}\\n\\n{% endif %}"
              "{%- set ns.first = false -%}{{ m.content | trim }}<end_of_turn>\\n{%- else -%}<start_of_turn>model\\n"
              "{{ m.content | trim }}<end_of_turn>\\n{%- endif -%}{%- endfor -%}"
              "{%- if add_generation_prompt -%}<start_of_turn>model\\n{%- endif -%}",
     [{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": " q1 "},
                    {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}], "add_generation_prompt": True},
      {"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}]}]),
    ("chat4", "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] | trim + '<|end|>\\n' }}"
              "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",
     [{"messages": [{"role": "user", "content": "  hi  "}], "add_generation_prompt": False, "eos_token": "<|endoftext|>"}]),
    ("chat5", "{% set loop_messages = messages %}{% for message in loop_messages %}"
              "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}"
              "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
     [{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": " y "}], "bos_token": "<|begin_of_text|>",
       "add_generation_prompt": True}]),
]
