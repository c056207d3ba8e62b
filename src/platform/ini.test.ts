import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIni, interpolate, parseIni, type IniSections } from './ini.js';
import { isStratusError } from '../domain/errors.js';

/** Plain-object view of the parse result, for deepEqual. */
function plain(s: IniSections): Record<string, Record<string, string>> {
  return Object.fromEntries([...s].map(([name, keys]) => [name, Object.fromEntries(keys)]));
}

interface ParseCase {
  why: string;
  text: string;
  want: Record<string, Record<string, string>>;
}

const parseCases: ParseCase[] = [
  {
    why: 'a password holding ";" and "#" stays whole: comments only count in column 0',
    text: '[default]\npassword = s3cr;et#1 ;not a comment\n',
    want: { default: { password: 's3cr;et#1 ;not a comment' } },
  },
  {
    why: '":" is a separator too (username: alice), and the first of ":"/"=" wins so URLs survive',
    text: '[default]\nusername: alice\nendpoint = https://cloud.example.org:2634/xmlrpc\nurl: http://x?a=b\n',
    want: { default: { username: 'alice', endpoint: 'https://cloud.example.org:2634/xmlrpc', url: 'http://x?a=b' } },
  },
  {
    why: 'section names may contain dots and keep their case; keys are lower-cased like ConfigParser',
    text: '[default]\n[cloud.example.org]\nEndPoint = a\n[Cloud.Example.Org]\nx=1\n',
    want: { default: {}, 'cloud.example.org': { endpoint: 'a' }, 'Cloud.Example.Org': { x: '1' } },
  },
  {
    why: 'indented continuation lines append with \\n (the `endpoints` key); blank lines and comments in between do not end the value',
    text: '[default]\nendpoints =\n  one.example.org alice pw1\n\n\tdos.example.org bob pw2\n# aside\n  tres.example.org carol pw3\nnext = 1\n',
    want: { default: { endpoints: '\none.example.org alice pw1\ndos.example.org bob pw2\ntres.example.org carol pw3', next: '1' } },
  },
  {
    why: 'empty values are allowed, with either separator',
    text: '[default]\npdisk_endpoint =\npdisk_username:\n',
    want: { default: { pdisk_endpoint: '', pdisk_username: '' } },
  },
  {
    why: 'comment lines with either marker, CRLF line ends and a UTF-8 BOM are all accepted',
    text: '\uFEFF# top\r\n; also\r\n[default] ; after header\r\nk = v\r\n',
    want: { default: { k: 'v' } },
  },
  {
    why: 'a repeated section is reopened and a repeated key overwritten, as in ConfigParser',
    text: '[default]\na = 1\n[x]\nb = 2\n[default]\na = 3\n',
    want: { default: { a: '3' }, x: { b: '2' } },
  },
  {
    why: 'values are stored raw: interpolation happens only on request',
    text: '[default]\nhome = /h\npath = %(home)s/x %%\n',
    want: { default: { home: '/h', path: '%(home)s/x %%' } },
  },
];

for (const c of parseCases) {
  test(`parseIni: ${c.why}`, () => {
    assert.deepEqual(plain(parseIni(c.text, 't.cfg')), c.want);
  });
}

interface BadCase {
  why: string;
  text: string;
  line: number;
  pattern: RegExp;
}

const badCases: BadCase[] = [
  { why: 'a line with no separator is neither key, section, comment nor continuation', text: '[default]\nok = 1\npassword hunter2\n', line: 3, pattern: /is not a \[section\]/ },
  { why: 'a key before any section header', text: 'username = alice\n[default]\n', line: 1, pattern: /before any \[section\]/ },
  { why: 'an indented line straight after a header continues nothing', text: '[default]\n  stray\n', line: 2, pattern: /does not continue/ },
  { why: 'an empty key', text: '[default]\n= v\n', line: 2, pattern: /no key/ },
  { why: 'a section header with junk after it', text: '[default]\n[x] y\n', line: 2, pattern: /bad section header/ },
  { why: 'an unclosed section header', text: '[default\n', line: 1, pattern: /bad section header/ },
];

for (const c of badCases) {
  test(`parseIni rejects: ${c.why}`, () => {
    assert.throws(
      () => parseIni(c.text, '/home/u/.stratuslab/stratuslab-user.cfg'),
      (e: unknown) => {
        assert.ok(isStratusError(e, 'CONFIG_INVALID'));
        assert.match(e.message, new RegExp(`^/home/u/\\.stratuslab/stratuslab-user\\.cfg:${c.line}: `));
        assert.match(e.message, c.pattern);
        return true;
      },
    );
  });
}

test('parseIni error messages never echo the offending line (it may be a password)', () => {
  assert.throws(() => parseIni('[default]\npassword hunter2\n'), (e: unknown) => {
    assert.ok(isStratusError(e, 'CONFIG_INVALID'));
    assert.doesNotMatch(e.message, /hunter2/);
    assert.match(e.message, /^<string>:2: /);
    return true;
  });
});

interface InterpCase {
  why: string;
  section: string;
  key: string;
  want: string | undefined;
}

const interpText = [
  '[default]',
  'host = marketplace.example.org',
  'marketplace_endpoint = https://%(host)s/',
  'percent = 100%% sure',
  'Mixed = %(HOST)s',
  '[site.a]',
  'host = a.example.org',
  'pdisk_endpoint = %(host)s:%(port)s',
  'port = 8445',
  'chain = %(pdisk_endpoint)s/pswd',
].join('\n');

const interpCases: InterpCase[] = [
  { why: 'a reference to a key of the same section', section: 'default', key: 'marketplace_endpoint', want: 'https://marketplace.example.org/' },
  { why: '%% is a literal %', section: 'default', key: 'percent', want: '100% sure' },
  { why: 'reference names are lower-cased like keys', section: 'default', key: 'mixed', want: 'marketplace.example.org' },
  { why: 'the section\'s own key shadows [default] when a [default] value is read through it', section: 'site.a', key: 'marketplace_endpoint', want: 'https://a.example.org/' },
  { why: 'references are expanded recursively', section: 'site.a', key: 'chain', want: 'a.example.org:8445/pswd' },
  { why: 'a key only in [default] is inherited (ConfigParser DEFAULT)', section: 'site.a', key: 'percent', want: '100% sure' },
  { why: 'the key lookup is case-insensitive', section: 'site.a', key: 'PORT', want: '8445' },
  { why: 'an absent key is undefined', section: 'site.a', key: 'nope', want: undefined },
  { why: 'an absent section is undefined', section: 'site.b', key: 'host', want: undefined },
];

for (const c of interpCases) {
  test(`interpolate: ${c.why}`, () => {
    assert.equal(interpolate(parseIni(interpText, 'i.cfg'), c.section, c.key), c.want);
  });
}

const interpBad: Array<{ why: string; text: string; key: string; pattern: RegExp }> = [
  { why: 'a lone % (a password such as 50%off must be written 50%%off)', text: '[default]\n\npassword = 50%off\n', key: 'password', pattern: /^p\.cfg:3: "%" must be followed/ },
  { why: 'a reference to a missing key', text: '[default]\nx = %(nope)s\n', key: 'x', pattern: /^p\.cfg:2: %\(nope\)s refers to a key/ },
  { why: '%(name) without the trailing s', text: '[default]\nx = %(y)\ny = 1\n', key: 'x', pattern: /^p\.cfg:2: "%" must be followed/ },
  { why: 'a reference loop stops at the depth limit', text: '[default]\na = %(b)s\nb = %(a)s\n', key: 'a', pattern: /^p\.cfg:2: interpolation nested more than 10 levels/ },
];

for (const c of interpBad) {
  test(`interpolate rejects: ${c.why}`, () => {
    assert.throws(() => interpolate(parseIni(c.text, 'p.cfg'), 'default', c.key), (e: unknown) => {
      assert.ok(isStratusError(e, 'CONFIG_INVALID'));
      assert.match(e.message, c.pattern);
      return true;
    });
  });
}

test('formatIni: round trip of the awkward values (passwords, continuation, empty, dotted section)', () => {
  const text = '[default]\npassword = a;b#c%%d\nendpoints =\n  h1 u1 p1\n  h2 u2 p2\nempty =\nkey: v = w\n\n[cloud.example.org]\nusername = alice\n';
  const parsed = parseIni(text);
  const written = formatIni(parsed);
  assert.equal(written, '[default]\npassword = a;b#c%%d\nendpoints =\n\th1 u1 p1\n\th2 u2 p2\nempty =\nkey = v = w\n\n[cloud.example.org]\nusername = alice\n');
  assert.deepEqual(plain(parseIni(written)), plain(parsed));
});

test('formatIni: nothing in, nothing out', () => {
  assert.equal(formatIni(new Map()), '');
});

const unwritable: Array<{ why: string; sections: IniSections }> = [
  { why: 'an upper-case key would come back lower-cased', sections: new Map([['default', new Map([['Key', 'v']])]]) },
  { why: 'a key holding "=" would split differently', sections: new Map([['default', new Map([['a=b', 'v']])]]) },
  { why: 'a key starting with # would read as a comment', sections: new Map([['default', new Map([['#k', 'v']])]]) },
  { why: 'a section name holding "]"', sections: new Map([['a]b', new Map()]]) },
  { why: 'a value with leading blanks would be trimmed', sections: new Map([['default', new Map([['k', ' v']])]]) },
  { why: 'an empty line inside a value would be dropped', sections: new Map([['default', new Map([['k', 'a\n\nb']])]]) },
];

for (const c of unwritable) {
  test(`formatIni refuses: ${c.why}`, () => {
    assert.throws(() => formatIni(c.sections), (e: unknown) => isStratusError(e, 'CONFIG_INVALID'));
  });
}
