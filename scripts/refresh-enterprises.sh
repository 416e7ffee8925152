#!/usr/bin/env bash
# scripts/refresh-enterprises.sh: (re)generate ksocket's compiled IANA enterprise table,
# platform/src/inventory/snmp/device/enterprises.rs, from the IANA "Private Enterprise
# Numbers" registry and the reviewed selection enterprises.select beside it.
#
#   scripts/refresh-enterprises.sh [REGISTRY]
#       REGISTRY: an enterprises file in Wireshark's format (NUMBER<TAB>NAME, optional
#       "# formerly ..." comment, a "(last updated YYYY-MM-DD)" header line). Default:
#       Debian's libwireshark-data copy, /usr/share/wireshark/enterprises.tsv (installed
#       with apt-get when missing and when run as root).
#
#   scripts/refresh-enterprises.sh --reselect [--corpus DIR]... [--librenms DIR --librenms-commit SHA] [REGISTRY]
#       Re-derive the generated tags of enterprises.select before generating:
#         corpus    every enterprise N of a recording (*.snmprec, *.snmprec.bz2) under a
#                   --corpus DIR: its sysObjectID (1.3.6.1.2.1.1.2.0) is under
#                   1.3.6.1.4.1.N, or it holds some OID of the 1.3.6.1.4.1.N subtree;
#         librenms  every enterprise N named by a sysObjectID or sysObjectID_regex of a
#                   LibreNMS OS definition (DIR: resources/definitions/os_detection of a
#                   LibreNMS checkout, read at commit SHA).
#       Hand-kept tags (issue14, ...) and "= Short" overrides are kept as they are. A
#       number that is Reserved, ---none--- or absent in the registry is not kept.
#       Without --corpus (or --librenms) the corpus (librenms) tags stay as they are.
#
# The table is checked in; run this when the registry or the selection changes, then
# `cargo test -p ksocket --bin ksocket enterprises` (tests: enterprises_tests.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=platform/src/inventory/snmp/device
DEFAULT_REGISTRY=/usr/share/wireshark/enterprises.tsv

args=()
registry=""
reselect=0
while [ $# -gt 0 ]; do
    case "$1" in
        --reselect) reselect=1; args+=("$1") ;;
        --corpus|--librenms|--librenms-commit)
            [ $# -ge 2 ] || { echo "refresh-enterprises: $1 needs a value" >&2; exit 2; }
            args+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "refresh-enterprises: unknown option $1" >&2; exit 2 ;;
        *) registry="$1" ;;
    esac
    shift
done
if [ -z "$registry" ]; then
    registry=$DEFAULT_REGISTRY
    if [ ! -f "$registry" ] && [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libwireshark-data >&2
    fi
    [ -f "$registry" ] || { echo "refresh-enterprises: no $registry (apt-get install libwireshark-data, or give a registry file)" >&2; exit 1; }
    origin="Debian libwireshark-data $(dpkg-query -W -f='${Version}' libwireshark-data 2>/dev/null || echo '?') ($registry)"
else
    [ -f "$registry" ] || { echo "refresh-enterprises: no file $registry" >&2; exit 1; }
    origin="$registry"
fi
[ $reselect = 1 ] || args=()

python3 - "$registry" "$origin" "$DIR/enterprises.select" "$DIR/enterprises.rs" "${args[@]}" <<'PY'
import bz2, os, re, sys

registry_path, origin, select_path, out_path = sys.argv[1:5]
opts = sys.argv[5:]
corpus_dirs, librenms_dir, librenms_commit, reselect = [], None, None, False
i = 0
while i < len(opts):
    o = opts[i]
    if o == '--reselect':
        reselect = True; i += 1; continue
    v = opts[i + 1]
    if o == '--corpus': corpus_dirs.append(v)
    elif o == '--librenms': librenms_dir = v
    elif o == '--librenms-commit': librenms_commit = v
    i += 2
if librenms_dir and not librenms_commit:
    sys.exit('refresh-enterprises: --librenms needs --librenms-commit (the commit it was read at)')

def die(msg):
    sys.exit('refresh-enterprises: ' + msg)

# --- the registry ------------------------------------------------------------------
registry, date = {}, None
with open(registry_path, encoding='utf-8') as f:
    for line in f:
        m = re.search(r'last updated (\d{4}-\d{2}-\d{2})', line)
        if line.startswith('#'):
            if m and not date: date = m.group(1)
            continue
        line = line.rstrip('\n')
        if not line.strip(): continue
        m = re.match(r'^(\d+)\s+(.*?)\s*$', line)
        if not m: die('unreadable registry line: %r' % line)
        name = re.sub(r'\s+#.*$', '', m.group(2)).strip()
        registry[int(m.group(1))] = name
if len(registry) < 50000: die('%s has only %d entries: not the whole registry' % (registry_path, len(registry)))
if not date: die('no "(last updated YYYY-MM-DD)" line in ' + registry_path)

def assigned(n):
    name = registry.get(n)
    return name is not None and name not in ('Reserved', '---none---', '') and not name.lower().startswith('unassigned')

# --- the selection -----------------------------------------------------------------
# NUMBER <TAB> TAGS [<TAB> = SHORT] [<TAB> # comment]; lines starting with # are kept.
GENERATED_TAGS = {'corpus', 'librenms'}
head, sel = [], {}
with open(select_path, encoding='utf-8') as f:
    for raw in f:
        line = raw.rstrip('\n')
        if not sel and (line.startswith('#') or not line.strip()):
            head.append(line); continue
        body = line.split('#', 1)[0].strip()
        if not body: continue
        m = re.match(r'^(\d+)\s+([a-z0-9,]+)\s*(?:=\s*(.+?))?\s*$', body)
        if not m: die('unreadable selection line: %r' % line)
        n = int(m.group(1))
        if n in sel: die('%d twice in the selection' % n)
        sel[n] = {'tags': set(m.group(2).split(',')), 'short': m.group(3)}

def corpus_numbers(dirs):
    found = set()
    for root in dirs:
        for dp, _, files in os.walk(root):
            for fn in files:
                if not (fn.endswith('.snmprec') or fn.endswith('.snmprec.bz2')): continue
                p = os.path.join(dp, fn)
                op = bz2.open if fn.endswith('.bz2') else open
                with op(p, 'rt', encoding='utf-8', errors='replace') as fh:
                    for line in fh:
                        parts = line.split('|', 2)
                        if len(parts) < 3: continue
                        oid, val = parts[0], parts[2].strip()
                        m = re.match(r'^1\.3\.6\.1\.4\.1\.(\d+)', oid)
                        if m: found.add(int(m.group(1)))
                        if oid == '1.3.6.1.2.1.1.2.0':
                            m = re.match(r'^\.?1\.3\.6\.1\.4\.1\.(\d+)', val)
                            if m: found.add(int(m.group(1)))
    return found

def librenms_numbers(d):
    # Read without a YAML library: the values of `sysObjectID:` / `sysObjectID_regex:`
    # keys (inline, or the block list below the key: items whose dash is at or right of
    # the key's column), never those of sysObjectID_except.
    found = set()
    oid = re.compile(r"^['\"]?/?\^?\\?\.?1\\?\.3\\?\.6\\?\.1\\?\.4\\?\.1\\?\.(\d+)")
    key = re.compile(r'^(\s*(?:-\s+)?)(sysObjectID|sysObjectID_regex)\s*:\s*(.*)$')
    for fn in sorted(os.listdir(d)):
        if not fn.endswith('.yaml'): continue
        key_col = None
        with open(os.path.join(d, fn), encoding='utf-8') as fh:
            for line in fh:
                s = line.rstrip('\n')
                m = key.match(s)
                flow = re.findall(r'[{,]\s*sysObjectID(?:_regex)?\s*:\s*(\[[^\]]*\]|[^,}\s]+)', s)
                for v in flow:                  # { sysObjectID: [.1.3.6.1.4.1.N, ...] }
                    for item in re.findall(r"[^\[\],\s]+", v):
                        mm = oid.match(item)
                        if mm: found.add(int(mm.group(1)))
                if m:
                    v = m.group(3).split(' #', 1)[0].strip()
                    for item in re.findall(r"[^\[\],\s]+", v):
                        mm = oid.match(item)
                        if mm: found.add(int(mm.group(1)))
                    key_col = None if v else len(m.group(1))
                    continue
                if key_col is None: continue
                body = s.lstrip(' ')
                col = len(s) - len(body)
                if body == '' or body.startswith('#'): continue
                if body.startswith('- ') and col >= key_col:
                    mm = oid.match(body[2:].lstrip())
                    if mm: found.add(int(mm.group(1)))
                    continue
                key_col = None
    return found

if reselect:
    derived = {}
    if corpus_dirs: derived['corpus'] = corpus_numbers(corpus_dirs)
    if librenms_dir: derived['librenms'] = librenms_numbers(librenms_dir)
    for tag, numbers in derived.items():
        for e in sel.values(): e['tags'].discard(tag)
        for n in numbers:
            sel.setdefault(n, {'tags': set(), 'short': None})['tags'].add(tag)
    for n in [n for n, e in sel.items() if not e['tags'] or not assigned(n)]:
        del sel[n]
    if librenms_commit:
        head = [re.sub(r'(LibreNMS commit )[0-9a-f]+', r'\g<1>' + librenms_commit, l) for l in head]

for n in sel:
    if not assigned(n): die('%d is selected but is not an assigned number in the registry' % n)

# --- short names -------------------------------------------------------------------
LEGAL = [r'inc', r'incorporated', r'corp', r'corporation', r'co', r'company', r'ltd',
         r'limited', r'llc', r'l\.l\.c', r'gmbh', r'ag', r's\.?a', r's\.?p\.?a', r'b\.?v',
         r'n\.?v', r'ab', r'as', r'a/s', r'oy', r'oyj', r'plc', r'pty', r'pte', r'k\.?k',
         r's\.?r\.?l', r's\.?r\.?o', r's\.?a\.?s', r'l\.?p', r'bhd', r'sdn', r'se', r'kg',
         r'sp\. z o\.o', r'co\.,\s*ltd', r'co\.\s*kg', r'asa', r'ltda', r'e\.v', r'a\.s',
         r'sro', r'spol\. s r\.o']
GENERIC = ['networks', 'network', 'systems', 'system', 'technologies', 'technology',
           'communications', 'communication', 'wireless', 'electronics', 'software',
           'solutions', 'international', 'group', 'holdings', 'industries', 'labs',
           'laboratories', 'computer', 'computers', 'devices', 'semiconductor',
           'semiconductors', 'electronic']
legal_re = re.compile(r'(?:^|[\s,]+)(?:%s)\.?[\s,.]*$' % '|'.join(LEGAL), re.I)
generic_re = re.compile(r'[\s,]+(?:%s)[\s,.]*$' % '|'.join(GENERIC), re.I)

def short_rule(name):
    s = re.sub(r'\s*\(.*$', '', name)           # "IBM (https://...)" -> "IBM"
    s = re.split(r',\s+an?\s+|\s+-\s+', s)[0]   # "Aruba, a Hewlett Packard ..." -> "Aruba"
    s = s.strip(' ,.&')
    while True:
        t = legal_re.sub('', s).strip(' ,.&')
        if t == s or not t: break
        s = t
    while True:
        t = generic_re.sub('', s).strip(' ,.&')
        if t == s or not t: break
        s = t
        while True:                             # "X Technology Co., Ltd" after the first pass
            t = legal_re.sub('', s).strip(' ,.&')
            if t == s or not t: break
            s = t
    return s or name

entries = []
for n in sorted(sel):
    name = registry[n]
    short = sel[n]['short'] or short_rule(name)
    if sel[n]['short'] and sel[n]['short'] == short_rule(name):
        print('refresh-enterprises: %d: the override %r is what the rule gives; drop it'
              % (n, short), file=sys.stderr)
    if not short.strip(): die('%d: empty short name' % n)
    entries.append((n, name, short))

# --- the selection file, rewritten (comments: the IANA name and the rule's short name)
with open(select_path, 'w', encoding='utf-8') as f:
    for l in head: f.write(l + '\n')
    for n, name, short in entries:
        e = sel[n]
        tags = ','.join(sorted(e['tags']))
        over = ('\t= ' + e['short']) if e['short'] else ''
        rule = '' if e['short'] else ' -> ' + short
        f.write('%d\t%s%s\t# %s%s\n' % (n, tags, over, name, rule))

# --- the Rust table ----------------------------------------------------------------
# One text holds every name; an entry is its number, and the (offset, length) of its
# IANA name and of its short name in the text (short names inside their IANA name, or
# already in the text, are not written twice).
text = ''
def place(s):
    global text
    b = text.encode('utf-8')
    sb = s.encode('utf-8')
    at = b.find(sb)
    if at < 0:
        at = len(b); text += s
    return at, len(sb)
spans = []
for n, name, short in entries:
    na = place(name)
    nb = name.encode('utf-8')
    sb = short.encode('utf-8')
    k = nb.find(sb)
    sa = (na[0] + k, len(sb)) if k >= 0 else place(short)
    spans.append((na, sa))
tb = text.encode('utf-8')
if len(tb) > 0xffff: die('text of %d bytes: offsets no longer fit u16' % len(tb))
for (na, sa) in spans:
    if na[1] > 255 or sa[1] > 255: die('a name longer than 255 bytes')

def rs_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

counts = {}
for e in sel.values():
    for t in e['tags']: counts[t] = counts.get(t, 0) + 1
n_over = sum(1 for e in sel.values() if e['short'])
sel_rel = os.path.basename(select_path)
out = []
w = out.append
w('// @generated by scripts/refresh-enterprises.sh: do not edit; edit %s and rerun.' % sel_rel)
w('//')
w('// The IANA Private Enterprise Numbers registry (%d assigned numbers), as of %s,' % (sum(1 for k in registry if assigned(k)), date))
w('// from %s,' % origin)
w('// restricted to the %d enterprises of %s: the makers of network-attached' % (len(entries), sel_rel))
w('// devices. Kept: (corpus) every enterprise of a recording of the SNMP corpora (the')
w('// enterprise of its sysObjectID, and every 1.3.6.1.4.1.N subtree it holds); (issue14) the')
w('// vendors issue 14 names; (librenms) every enterprise that a sysObjectID of a LibreNMS OS')
w('// definition names (LibreNMS recognises that maker\'s devices; the commit is named in the')
w('// selection); (common) a few common makers of printers, IP phones, cameras and BMCs that')
w('// LibreNMS tells by other means. Reserved and unassigned numbers are never kept.')
w('// Counts by tag (an enterprise may have several): %s.' % ', '.join('%s %d' % (t, counts[t]) for t in sorted(counts)))
w('// Short names: the IANA name less a parenthesised tail, a ", a ..." or " - ..." tail,')
w('// legal-form suffixes (Inc., Corp., Co., Ltd, GmbH, AG, S.A., LLC, ...) and then trailing')
w('// generic words (Networks, Systems, Technologies, Communications, ...); %d names' % n_over)
w('// the rule gets wrong, or that engineers say otherwise, are overridden in the selection.')
w('// Refresh: scripts/refresh-enterprises.sh [REGISTRY] (see its header).')
w('')
w('/// The date of the registry the table was made from ("last updated").')
w('#[allow(dead_code)]')
w('pub const DATA_DATE: &str = %s;' % rs_str(date))
w('')
w('/// One enterprise of the table.')
w('#[derive(Debug, Clone, Copy, PartialEq, Eq)]')
w('pub struct Enterprise {')
w('    /// The IANA Private Enterprise Number (1.3.6.1.4.1.N).')
w('    pub number: u32,')
w('    /// The organisation as the IANA registry spells it.')
w('    pub name: &\'static str,')
w('    /// The name an engineer would say ("Cisco", "HPE", "APC").')
w('    pub short: &\'static str,')
w('}')
w('')
w('/// The enterprise of number `enterprise`, when the table holds it.')
w('#[allow(dead_code)]')
w('pub fn lookup(enterprise: u32) -> Option<Enterprise> {')
w('    let i = NUMBERS.binary_search(&enterprise).ok()?;')
w('    Some(Enterprise {')
w('        number: enterprise,')
w('        name: text(*NAMES.get(i)?)?,')
w('        short: text(*SHORTS.get(i)?)?,')
w('    })')
w('}')
w('')
w('/// The (offset, length) span of TEXT.')
w('fn text((at, len): (u16, u8)) -> Option<&\'static str> {')
w('    let at = usize::from(at);')
w('    TEXT.get(at..at + usize::from(len))')
w('}')
w('')
w('/// Every number of the table, ascending.')
w('#[allow(dead_code)]')
w('pub fn numbers() -> &\'static [u32] {')
w('    &NUMBERS')
w('}')
w('')
w('const LEN: usize = %d;' % len(entries))
w('')
w('/// Every name, one after the other (%d bytes).' % len(tb))
w('#[rustfmt::skip]')
w('static TEXT: &str = concat!(')
chunk = ''
for ch in text:
    chunk += ch
    if len(chunk) >= 80:
        w('    %s,' % rs_str(chunk)); chunk = ''
if chunk: w('    %s,' % rs_str(chunk))
w(');')
w('')
def arr(name, ty, items, per):
    w('#[rustfmt::skip]')
    w('static %s: [%s; LEN] = [' % (name, ty))
    for k in range(0, len(items), per):
        w('    ' + ' '.join(x + ',' for x in items[k:k + per]))
    w('];')
    w('')
arr('NUMBERS', 'u32', [str(n) for n, _, _ in entries], 10)
w('/// (offset, length) of each IANA name in TEXT.')
arr('NAMES', '(u16, u8)', ['(%d, %d)' % s[0] for s in spans], 8)
w('/// (offset, length) of each short name in TEXT.')
arr('SHORTS', '(u16, u8)', ['(%d, %d)' % s[1] for s in spans], 8)
w('#[cfg(test)]')
w('#[path = "enterprises_tests.rs"]')
w('mod tests;')
with open(out_path, 'w', encoding='utf-8') as f:
    f.write('\n'.join(out) + '\n')
print('refresh-enterprises: %d enterprises (of %d assigned), text %d bytes, registry of %s -> %s'
      % (len(entries), sum(1 for k in registry if assigned(k)), len(tb), date, out_path), file=sys.stderr)
PY
