import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  UserConfig,
  configKeyFor,
  defaultConfigPath,
  envVarFor,
  marketplaceEndpoint,
  optionNameFor,
  pdiskEndpoint,
  type SettingSpec,
} from './user-config.js';
import { isStratusError } from '../domain/errors.js';

// Every test works under its own temporary "home" with an explicit env object, so neither the
// real HOME nor the real environment is ever read.
const root = mkdtempSync(join(tmpdir(), 'stratus-user-config-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A fresh home directory, with ~/.stratuslab/stratuslab-user.cfg holding `cfg` if given. */
function home(cfg?: string): string {
  const dir = join(root, `home${++counter}`);
  mkdirSync(join(dir, '.stratuslab'), { recursive: true });
  if (cfg !== undefined) writeFileSync(defaultConfigPath(dir), cfg);
  return dir;
}

function configInvalid(pattern: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(isStratusError(e, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  };
}

const marketplace: SettingSpec = { key: 'marketplace_endpoint', default: 'https://marketplace.stratuslab.eu' };
const CFG = '[default]\nmarketplace_endpoint = http://file.example.org\n';

// --- precedence: each layer beats the ones below it -----------------------------------------

const precedence: Array<{ why: string; cfg?: string; env: NodeJS.ProcessEnv; cli?: string; want: string | undefined; origin: string }> = [
  { why: 'CLI beats env, file and default', cfg: CFG, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: 'http://env' }, cli: 'http://cli', want: 'http://cli', origin: 'cli' },
  { why: 'env beats file and default', cfg: CFG, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: 'http://env' }, want: 'http://env', origin: 'env' },
  { why: 'file beats default', cfg: CFG, env: {}, want: 'http://file.example.org', origin: 'file' },
  { why: 'default when nothing else is set', cfg: '[default]\n', env: {}, want: 'https://marketplace.stratuslab.eu', origin: 'default' },
  { why: 'default when there is no config file at all', env: {}, want: 'https://marketplace.stratuslab.eu', origin: 'default' },
  { why: 'an empty CLI value still wins: it was given explicitly', cfg: CFG, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: 'http://env' }, cli: '', want: '', origin: 'cli' },
  { why: 'an empty env variable counts as unset, so the file applies', cfg: CFG, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: '' }, want: 'http://file.example.org', origin: 'file' },
  { why: 'an empty file value (template style "key =") counts as unset, so the default applies', cfg: '[default]\nmarketplace_endpoint =\n', env: {}, want: 'https://marketplace.stratuslab.eu', origin: 'default' },
];

for (const c of precedence) {
  test(`precedence: ${c.why}`, () => {
    const uc = UserConfig.load({ home: home(c.cfg), env: c.env });
    assert.equal(uc.get(marketplace, c.cli), c.want);
    assert.equal(uc.origin(marketplace, c.cli), c.origin);
  });
}

test('precedence: unset when no layer has a value and there is no default', () => {
  const uc = UserConfig.load({ home: home('[default]\n'), env: {} });
  assert.equal(uc.get({ key: 'username' }), undefined);
  assert.equal(uc.origin({ key: 'username' }), 'unset');
});

test('a spec can name its own env variable (e.g. --key <- STRATUSLAB_KEY <- user_public_key_file)', () => {
  const spec: SettingSpec = { key: 'user_public_key_file', env: 'STRATUSLAB_KEY' };
  const h = home('[default]\nuser_public_key_file = /file/id_rsa.pub\n');
  assert.equal(UserConfig.load({ home: h, env: { STRATUSLAB_KEY: '/env/id.pub' } }).get(spec), '/env/id.pub');
  assert.equal(UserConfig.load({ home: h, env: { STRATUSLAB_USER_PUBLIC_KEY_FILE: '/ignored' } }).get(spec), '/file/id_rsa.pub');
});

test('name mapping: foo_bar <-> STRATUSLAB_FOO_BAR <-> fooBar', () => {
  assert.equal(envVarFor('pdisk_endpoint'), 'STRATUSLAB_PDISK_ENDPOINT');
  assert.equal(optionNameFor('pdisk_endpoint'), 'pdiskEndpoint');
  assert.equal(optionNameFor('p12_certificate'), 'p12Certificate');
  assert.equal(configKeyFor('pdiskEndpoint'), 'pdisk_endpoint');
  assert.equal(configKeyFor(optionNameFor('user_public_key_file')), 'user_public_key_file');
  const uc = UserConfig.load({ home: home('[default]\npdisk_endpoint = p.example.org\n'), env: {} });
  assert.equal(uc.get({ key: 'pdisk_endpoint' }), 'p.example.org');
  assert.equal(UserConfig.load({ home: home(), env: { STRATUSLAB_PDISK_ENDPOINT: 'e' } }).get({ key: 'pdisk_endpoint' }), 'e');
});

test('config keys are case-insensitive, like ConfigParser', () => {
  const uc = UserConfig.load({ home: home('[default]\nUserName = alice\n'), env: {} });
  assert.equal(uc.get({ key: 'username' }), 'alice');
});

// --- the file ------------------------------------------------------------------------------

test('a missing default file is an empty config', () => {
  const uc = UserConfig.load({ home: home(), env: {} });
  assert.equal(uc.file, undefined);
  assert.equal(uc.section, undefined);
  assert.equal(uc.get({ key: 'username' }), undefined);
});

test('-c names the file, and the default file is then ignored', () => {
  const h = home('[default]\nusername = from-default-file\n');
  const other = join(h, 'other.cfg');
  writeFileSync(other, '[default]\nusername = from-c\n');
  const uc = UserConfig.load({ home: h, configFile: other, env: {} });
  assert.equal(uc.get({ key: 'username' }), 'from-c');
  assert.equal(uc.file, other);
});

test('a missing file named with -c is CONFIG_INVALID "config file not found: <path>"', () => {
  const missing = join(home(), 'nope.cfg');
  assert.throws(() => UserConfig.load({ configFile: missing, env: {} }), configInvalid(new RegExp(`^config file not found: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)));
});

test('an existing file without [default] is CONFIG_INVALID naming the file', () => {
  const h = home('[cloud.example.org]\nusername = alice\n');
  assert.throws(() => UserConfig.load({ home: h, env: {} }), configInvalid(/stratuslab-user\.cfg: the \[default\] section is missing/));
});

test('an empty existing file still lacks the mandatory [default]', () => {
  assert.throws(() => UserConfig.load({ home: home(''), env: {} }), configInvalid(/\[default\] section is missing/));
});

test('a syntax error in the file reports file:line', () => {
  const h = home('[default]\nusername = alice\npassword s3cret\n');
  assert.throws(() => UserConfig.load({ home: h, env: {} }), configInvalid(/stratuslab-user\.cfg:3: /));
});

test('a lone % in a file value reports file:line (interpolation as SafeConfigParser)', () => {
  const h = home('[default]\nusername = alice\npassword = 50%off\n');
  assert.throws(() => UserConfig.load({ home: h, env: {} }), configInvalid(/stratuslab-user\.cfg:3: "%" must be followed/));
});

test('continuation lines give a multi-line value (endpoints of describe-instance -m)', () => {
  const h = home('[default]\nendpoints =\n    one.example.org alice pw;1\n    two.example.org bob pw#2\nusername = alice\n');
  const uc = UserConfig.load({ home: h, env: {} });
  assert.equal(uc.get({ key: 'endpoints' }), '\none.example.org alice pw;1\ntwo.example.org bob pw#2');
  assert.equal(uc.get({ key: 'username' }), 'alice');
});

test('values are interpolated from the selected section, then [default]', () => {
  const h = home('[default]\nhost = default.example.org\nendpoint = https://%(host)s/one-proxy/xmlrpc\n[lab]\nhost = lab.example.org\n');
  assert.equal(UserConfig.load({ home: h, env: {} }).get({ key: 'endpoint' }), 'https://default.example.org/one-proxy/xmlrpc');
  assert.equal(UserConfig.load({ home: h, section: 'lab', env: {} }).get({ key: 'endpoint' }), 'https://lab.example.org/one-proxy/xmlrpc');
});

// --- the selected section ------------------------------------------------------------------

const SECTIONS = [
  '[default]',
  'selected_section = from.file',
  'username = default-user',
  'password = default-pass',
  '[from.file]',
  'username = file-user',
  '[from.env]',
  'username = env-user',
  '[from.cli]',
  'username = cli-user',
].join('\n');

const selection: Array<{ why: string; section?: string; env: NodeJS.ProcessEnv; want: string; selected: string }> = [
  { why: '-S wins over the env variable and selected_section', section: 'from.cli', env: { STRATUSLAB_USER_CONFIG_SECTION: 'from.env' }, want: 'cli-user', selected: 'from.cli' },
  { why: 'STRATUSLAB_USER_CONFIG_SECTION wins over selected_section', env: { STRATUSLAB_USER_CONFIG_SECTION: 'from.env' }, want: 'env-user', selected: 'from.env' },
  { why: 'selected_section in [default] applies when nothing else selects', env: {}, want: 'file-user', selected: 'from.file' },
  { why: 'an empty env variable does not select', env: { STRATUSLAB_USER_CONFIG_SECTION: '' }, want: 'file-user', selected: 'from.file' },
];

for (const c of selection) {
  test(`selected section: ${c.why}`, () => {
    const uc = UserConfig.load({ home: home(SECTIONS), env: c.env, ...(c.section === undefined ? {} : { section: c.section }) });
    assert.equal(uc.section, c.selected);
    assert.equal(uc.get({ key: 'username' }), c.want);
    // Keys the section lacks come from [default]: an overlay, not a replacement.
    assert.equal(uc.get({ key: 'password' }), 'default-pass');
  });
}

test('no selection at all: only [default] applies', () => {
  const uc = UserConfig.load({ home: home('[default]\nusername = d\n[other]\nusername = o\n'), env: {} });
  assert.equal(uc.section, undefined);
  assert.equal(uc.get({ key: 'username' }), 'd');
});

const missingSection: Array<{ why: string; cfg?: string; section?: string; env: NodeJS.ProcessEnv; pattern: RegExp }> = [
  { why: 'named by -S', cfg: SECTIONS, section: 'nope', env: {}, pattern: /section \[nope\] selected by -S\/--user-config-section does not exist in .*stratuslab-user\.cfg/ },
  { why: 'named by the env variable', cfg: SECTIONS, env: { STRATUSLAB_USER_CONFIG_SECTION: 'nope' }, pattern: /section \[nope\] selected by STRATUSLAB_USER_CONFIG_SECTION does not exist/ },
  { why: 'named by selected_section', cfg: '[default]\nselected_section = nope\n', env: {}, pattern: /section \[nope\] selected by selected_section in \[default\]/ },
  { why: 'section names are case-sensitive', cfg: SECTIONS, section: 'FROM.CLI', env: {}, pattern: /section \[FROM\.CLI\] .* does not exist/ },
  { why: 'named while there is no config file at all', section: 'lab', env: {}, pattern: /section \[lab\] selected by -S\/--user-config-section, but there is no config file/ },
];

for (const c of missingSection) {
  test(`a selected section that does not exist is CONFIG_INVALID: ${c.why}`, () => {
    const opts = { home: home(c.cfg), env: c.env, ...(c.section === undefined ? {} : { section: c.section }) };
    assert.throws(() => UserConfig.load(opts), configInvalid(c.pattern));
  });
}

test('sectionValues reads a side table such as [instance_types] without the overlay', () => {
  const uc = UserConfig.load({ home: home('[default]\nusername = u\n[instance_types]\nbig = 8, 16384, 2048\n'), env: {} });
  assert.deepEqual(Object.fromEntries(uc.sectionValues('instance_types') ?? []), { big: '8, 16384, 2048' });
  assert.equal(uc.sectionValues('absent'), undefined);
});

// --- endpoint sanitising (§1.0) ------------------------------------------------------------

const marketplaceTable: Array<[string, string, string]> = [
  ['https://marketplace.stratuslab.eu', 'https://marketplace.stratuslab.eu', 'a full URL is kept'],
  ['https://marketplace.stratuslab.eu/', 'https://marketplace.stratuslab.eu', 'a trailing slash is stripped'],
  ['http://localhost:8081///', 'http://localhost:8081', 'all trailing slashes are stripped'],
  ['https://mp.example.org/base/', 'https://mp.example.org/base', 'a path keeps all but its trailing slash'],
  ['  https://mp.example.org/  ', 'https://mp.example.org', 'surrounding blanks are trimmed'],
  ['marketplace.example.org', 'https://marketplace.example.org:80', 'the documented quirk: no scheme -> https on port 80'],
  ['marketplace.example.org/', 'https://marketplace.example.org:80', 'quirk, after stripping the slash'],
  ['localhost', 'https://localhost:80', 'bare localhost (no port) still follows the documented quirk'],
  ['localhost:8081', 'http://localhost:8081', 'loopback host:port keeps its port, plain http (local dev server)'],
  ['LocalHost:8081', 'http://LocalHost:8081', 'loopback names are case-insensitive'],
  ['127.0.0.1:8081', 'http://127.0.0.1:8081', '127.0.0.1 is loopback'],
  ['127.8.9.10:9000', 'http://127.8.9.10:9000', 'all of 127/8 is loopback'],
  ['[::1]:8081', 'http://[::1]:8081', 'IPv6 loopback'],
  ['mp.example.org:8443', 'https://mp.example.org:8443', 'a non-loopback host:port keeps its port but stays https'],
  ['127.0.0.1.evil.org:8081', 'https://127.0.0.1.evil.org:8081', 'a name merely starting with 127.0.0.1 is not loopback'],
  ['localhost.evil.org:8081', 'https://localhost.evil.org:8081', 'a name merely starting with localhost is not loopback'],
];

for (const [raw, want, why] of marketplaceTable) {
  test(`marketplaceEndpoint(${JSON.stringify(raw)}): ${why}`, () => {
    assert.equal(marketplaceEndpoint(raw), want);
  });
}

const pdiskTable: Array<[string, string, string]> = [
  ['pdisk.example.org', 'https://pdisk.example.org:8445', 'no scheme -> https on 8445'],
  ['pdisk.example.org/', 'https://pdisk.example.org:8445', 'no scheme, trailing slash'],
  ['https://pdisk.example.org:8445/', 'https://pdisk.example.org:8445', 'a URL keeps its port, loses the trailing slash'],
  ['localhost:8445', 'http://localhost:8445', 'loopback host:port -> http'],
  ['127.0.0.1:18445', 'http://127.0.0.1:18445', 'loopback IPv4 host:port -> http'],
  ['pdisk.example.org:9445', 'https://pdisk.example.org:9445', 'non-loopback host:port -> https'],
  ['localhost', 'https://localhost:8445', 'bare loopback host gets the documented default'],
];

for (const [raw, want, why] of pdiskTable) {
  test(`pdiskEndpoint(${JSON.stringify(raw)}): ${why}`, () => {
    assert.equal(pdiskEndpoint(raw), want);
  });
}

const badEndpoints: Array<[string, string]> = [
  ['', 'empty'],
  ['mp.example.org:99999', 'port out of range'],
  ['mp.example.org:0', 'port zero'],
  ['ftp://mp.example.org', 'scheme other than http/https'],
  ['mp example.org', 'blank inside the host'],
  ['alice:pw@mp.example.org', 'credentials without a scheme'],
  ['::1', 'IPv6 without brackets'],
];

for (const [raw, why] of badEndpoints) {
  test(`endpoint helpers reject ${JSON.stringify(raw)}: ${why}`, () => {
    assert.throws(() => marketplaceEndpoint(raw), configInvalid(/marketplace endpoint/));
    assert.throws(() => pdiskEndpoint(raw), configInvalid(/pdisk endpoint/));
  });
}
