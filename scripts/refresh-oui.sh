#!/usr/bin/env bash
# scripts/refresh-oui.sh: (re)generate ksocket's compiled MAC vendor table (the IEEE OUI
# registry), platform/src/discover/oui/oui.bin and platform/src/discover/oui/data.rs.
#
#   scripts/refresh-oui.sh
#       Reads Debian's ieee-data package (/usr/share/ieee-data: oui.csv MA-L, mam.csv
#       MA-M, oui36.csv MA-S, iab.csv IAB), installed with apt-get when missing and when
#       run as root. The data's date is the package's (.lastupdate).
#
#   scripts/refresh-oui.sh --check
#       Regenerates from Debian's ieee-data into a temporary directory and compares with
#       the checked-in files (CI: the data is what the script makes of its source). When
#       the installed ieee-data is not the version the data was made from, says so and
#       passes (nothing to compare with).
#
#   scripts/refresh-oui.sh [--date YYYY-MM-DD] MA-L.csv MA-M.csv MA-S.csv [IAB.csv]
#       The IEEE's own CSV files (Registry,Assignment,Organization Name,Organization
#       Address), as published by the IEEE Registration Authority. The date is --date,
#       else the newest file's modification date.
#
# The generated files are checked in; run this when the registry is refreshed, then
# `cargo test -p ksocket --bin ksocket oui` (tests: platform/src/discover/oui/tests.rs:
# the entry count, per-registry samples). The output depends only on the input and on
# python3's zlib (level 9, raw deflate): the same zlib gives the same bytes.
#
# The format (read by platform/src/discover/oui/mod.rs):
#   - three tables, MA-L (24-bit prefixes), MA-M (28-bit), MA-S and IAB (36-bit), each
#     sorted by prefix and cut into blocks of BLOCK entries;
#   - a block, before compression: varint count; varint length of the entries; count x (varint prefix delta from the
#     block's first prefix (the first is 0), varint name: 0 = the next inline name, i+1 =
#     common name i); then the inline names (u8 length, UTF-8 bytes), in entry order;
#   - each block is raw deflate (RFC 1951) with one preset dictionary, DICT, shared by all
#     blocks: frequent words of the names, then the COMMON names (the vendors with the most
#     prefixes: Apple, Cisco, ...), which entries name by number; so a lookup inflates one
#     block (at most BLOCK_MAX bytes) into a fixed buffer after the dictionary;
#   - data.rs holds the index (and the MA-L prefixes that the MA-M and MA-S ones lie
#     under, so that a lookup inflates their blocks only for those): per table, each block's first prefix and its span in
#     oui.bin (DICT, then the blocks one after the other).
# Names are shortened as for the SNMP enterprise table (scripts/refresh-enterprises.sh:
# legal suffixes, then generic trailing words), plus a few overrides (OVERRIDES below)
# for the vendors with the most prefixes. "Private" assignments and the IEEE's own
# registration-authority blocks are left out (a lookup says unknown); the legacy MA-L
# prefixes assigned twice keep both names ("A / B").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=platform/src/discover/oui
SRC=/usr/share/ieee-data

date=""
files=()
check=0
origin_as=""
while [ $# -gt 0 ]; do
    case "$1" in
        --date)
            [ $# -ge 2 ] || { echo "refresh-oui: --date needs a value" >&2; exit 2; }
            date="$2"; shift ;;
        --check) check=1 ;;
        --origin-as|--out)      # internal, for --check
            [ $# -ge 2 ] || { echo "refresh-oui: $1 needs a value" >&2; exit 2; }
            if [ "$1" = --out ]; then OUT="$2"; else origin_as="$2"; fi; shift ;;
        -h|--help) sed -n '2,45p' "$0"; exit 0 ;;
        -*) echo "refresh-oui: unknown option $1" >&2; exit 2 ;;
        *) files+=("$1") ;;
    esac
    shift
done
if [ ${#files[@]} -eq 0 ]; then
    if [ ! -f "$SRC/oui.csv" ] && [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ieee-data >&2
    fi
    [ -f "$SRC/oui.csv" ] || { echo "refresh-oui: no $SRC/oui.csv (apt-get install ieee-data, or give the CSV files)" >&2; exit 1; }
    files=("$SRC/oui.csv" "$SRC/mam.csv" "$SRC/oui36.csv" "$SRC/iab.csv")
    if [ -z "$date" ] && [ -f "$SRC/.lastupdate" ]; then
        date=$(date -u -d "@$(tr -dc 0-9 < "$SRC/.lastupdate")" +%F)
    fi
    origin="Debian ieee-data $(dpkg-query -W -f='${Version}' ieee-data 2>/dev/null || echo '?')"
else
    [ ${#files[@]} -ge 3 ] || { echo "refresh-oui: give MA-L.csv MA-M.csv MA-S.csv [IAB.csv]" >&2; exit 2; }
    for f in "${files[@]}"; do [ -f "$f" ] || { echo "refresh-oui: no file $f" >&2; exit 1; }; done
    origin="${origin_as:-the IEEE CSV files}"
fi
if [ -z "$date" ]; then
    newest=$(ls -t "${files[@]}" | head -1)
    date=$(date -u -r "$newest" +%F)
fi
[[ "$date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || { echo "refresh-oui: bad date $date" >&2; exit 2; }
if [ $check = 1 ]; then
    [ ${#files[@]} -eq 4 ] && [ "${files[0]}" = "$SRC/oui.csv" ] || { echo "refresh-oui: --check reads ieee-data only" >&2; exit 2; }
    made=$(sed -n 's/^pub const ORIGIN: &str = "\(.*\)";$/\1/p' "$OUT/data.rs")
    if [ "$made" != "$origin" ]; then
        echo "refresh-oui --check: the table was made from $made, the machine has $origin: not compared"
        exit 0
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    scripts/refresh-oui.sh --date "$date" "${files[@]}" --origin-as "$origin" --out "$tmp" 2>/dev/null
    for f in data.rs oui.bin; do
        cmp -s "$tmp/$f" "$OUT/$f" || { echo "refresh-oui --check: $OUT/$f is not what the script makes of $origin: rerun scripts/refresh-oui.sh" >&2; exit 1; }
    done
    echo "refresh-oui --check: $OUT is what the script makes of $origin"
    exit 0
fi

python3 - "$OUT" "$date" "$origin" "${files[@]}" <<'PY'
import collections, csv, re, sys, zlib

out_dir, date, origin = sys.argv[1:4]
paths = sys.argv[4:]

def die(msg):
    sys.exit('refresh-oui: ' + msg)

BLOCK = 512          # entries per block (measured: 256 -> +8 KB, 1024 -> -6 KB but 2x the buffer)
DICT_MAX = 32768     # the deflate window: the dictionary must stay within reach
COMMON_MAX = 1024    # vendors named by number (those with the most prefixes, at least 2)

# --- short names: the rule of scripts/refresh-enterprises.sh ---------------------------
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
    s = re.sub(r'\s*\(.*$', '', name)
    s = re.split(r',\s+an?\s+|\s+-\s+', s)[0]
    s = s.strip(' ,.&')
    while True:
        t = legal_re.sub('', s).strip(' ,.&')
        if t == s or not t: break
        s = t
    while True:
        t = generic_re.sub('', s).strip(' ,.&')
        if t == s or not t: break
        s = t
        while True:
            t = legal_re.sub('', s).strip(' ,.&')
            if t == s or not t: break
            s = t
    return s or name

# The rule's result -> the name engineers say, for vendors with many prefixes.
OVERRIDES = {
    'Intel Corporate': 'Intel',
    'HUAWEI': 'Huawei',
    'Huawei Device': 'Huawei',
    'zte': 'ZTE',
    'GUANGDONG OPPO MOBILE TELECOMMUNICATIONS': 'OPPO',
    'vivo Mobile': 'vivo',
    'Hon Hai Precision Ind': 'Hon Hai (Foxconn)',
    'Fiberhome Telecommunication': 'FiberHome',
    'TP-LINK': 'TP-Link',
    'Hewlett Packard': 'HP',
    'Hewlett Packard Enterprise': 'HPE',
    'ASUSTek': 'ASUS',
    'Sagemcom Broadband': 'Sagemcom',
    'Espressif': 'Espressif',
    'New H3C': 'H3C',
    'Ruijie': 'Ruijie',
    'Murata Manufacturing': 'Murata',
    'SAMSUNG ELECTRO-MECHANICS': 'Samsung',
    'Samsung Electro-Mechanics': 'Samsung',
    'Routerboard.com': 'MikroTik',
    'Ubiquiti': 'Ubiquiti',
    'Ubiquiti Inc': 'Ubiquiti',
    'ARRIS': 'ARRIS',
    'AVM Audiovisuelles Marketing und Computersysteme': 'AVM',
    'Raspberry Pi Trading': 'Raspberry Pi',
    'Raspberry Pi': 'Raspberry Pi',
    'Super Micro Computer': 'Supermicro',
    'Shenzhen Ogemray': 'Ogemray',
    'Raspberry Pi Foundation': 'Raspberry Pi',
    'Silicon': 'Silicon Labs',
    'Hangzhou Hikvision Digital': 'Hikvision',
    'Zhejiang Dahua': 'Dahua',
    'Nokia Solutions and': 'Nokia',
}

KIND = {'MA-L': 24, 'MA-M': 28, 'MA-S': 36, 'IAB': 36}
names = {24: collections.defaultdict(list), 28: collections.defaultdict(list), 36: collections.defaultdict(list)}
seen = collections.Counter()
for p in paths:
    with open(p, encoding='utf-8', newline='') as f:
        r = csv.reader(f)
        head = next(r, None)
        if not head or [h.strip() for h in head[:3]] != ['Registry', 'Assignment', 'Organization Name']:
            die('%s: not an IEEE registry CSV (header %r)' % (p, head))
        for row in r:
            if not row: continue
            if len(row) < 3: die('%s: short row %r' % (p, row))
            reg, hexa, org = row[0].strip(), row[1].strip(), ' '.join(row[2].split())
            bits = KIND.get(reg)
            if bits is None: die('%s: unknown registry %r' % (p, reg))
            if len(hexa) != bits // 4 or not re.fullmatch(r'[0-9A-Fa-f]+', hexa):
                die('%s: bad %s assignment %r' % (p, reg, hexa))
            seen[reg] += 1
            if org in ('', 'Private', 'IEEE Registration Authority'): continue
            short = short_rule(org)
            short = OVERRIDES.get(short, short)
            if len(short.encode('utf-8')) > 255: die('name longer than 255 bytes: %r' % short)
            lst = names[bits][int(hexa, 16)]
            if short not in lst: lst.append(short)
for reg in ('MA-L', 'MA-M', 'MA-S'):
    if seen[reg] < {'MA-L': 20000, 'MA-M': 2000, 'MA-S': 2000}[reg]:
        die('only %d %s assignments: not the whole registry' % (seen[reg], reg))

tables = {}
for bits, d in names.items():
    tables[bits] = [(k, ' / '.join(v)) for k, v in sorted(d.items())]
total = sum(len(t) for t in tables.values())
every = [n for t in tables.values() for _, n in t]
freq = collections.Counter(every)

# --- the dictionary: frequent words of the inline names, then the common names ----------
common = [n for n, c in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0])) if c >= 2][:COMMON_MAX]
cid = {n: i for i, n in enumerate(common)}
ctext = b''
cspan = []
for n in reversed(common):          # the most common last: nearest the block, shortest distance
    b = n.encode('utf-8')
    cspan.append((len(ctext), len(b)))
    ctext += b
cspan.reverse()
words = collections.Counter()
for n in every:
    if n in cid: continue
    w = n.split(' ')
    for a in range(len(w)):
        for b in range(a + 1, min(len(w), a + 3) + 1):
            words[' '.join(w[a:b])] += 1
ranked = sorted((((c - 1) * len(s.encode('utf-8')), s) for s, c in words.items() if c >= 3), reverse=True)
wtext = b''
room = DICT_MAX - len(ctext)
if room < 0: die('common names of %d bytes: more than the window' % len(ctext))
for _, s in ranked:
    b = s.encode('utf-8') + b' '
    if len(wtext) + len(b) > room or b in wtext: continue
    wtext = b + wtext
dictionary = wtext + ctext
cspan = [(len(wtext) + a, l) for a, l in cspan]

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

blob = bytearray(dictionary)
index = {}
block_max = 0
for bits in (24, 28, 36):
    t = tables[bits]
    idx = []
    for i in range(0, len(t), BLOCK):
        es = t[i:i + BLOCK]
        head, text = bytearray(), bytearray()
        first = es[0][0]
        prev = first
        for k, n in es:
            head += varint(k - prev)
            prev = k
            if n in cid:
                head += varint(cid[n] + 1)
            else:
                b = n.encode('utf-8')
                head += b'\0'
                text.append(len(b))
                text += b
        raw = varint(len(es)) + varint(len(head)) + bytes(head + text)
        block_max = max(block_max, len(raw))
        c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
        z = c.compress(raw) + c.flush()
        d = zlib.decompressobj(-15, zdict=dictionary)
        if d.decompress(z) != raw: die('a block does not inflate back')
        idx.append((first, len(blob), len(blob) + len(z)))
        blob += z
    index[bits] = idx
blob_len = len(blob)

def rs_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

o = []
w = o.append
w('// @generated by scripts/refresh-oui.sh: do not edit; rerun it (see its header).')
w('//')
w('// The IEEE OUI registry as of %s, from %s: %d MA-L, %d MA-M, %d MA-S, %d IAB'
  % (date, origin, seen['MA-L'], seen['MA-M'], seen['MA-S'], seen['IAB']))
w('// assignments; %d prefixes kept (Private and the IEEE\'s own blocks left out), %d names,' % (total, len(freq)))
w('// %d of them common (named by number).' % len(common))
w('// oui.bin: the dictionary (%d bytes), then %d blocks of at most %d entries (%d bytes).'
  % (len(dictionary), sum(len(v) for v in index.values()), BLOCK, blob_len - len(dictionary)))
w('')
w('/// The date of the registry data (the ieee-data package\'s update, or the files\').')
w('pub const DATA_DATE: &str = %s;' % rs_str(date))
w('/// Where the data came from.')
w('pub const ORIGIN: &str = %s;' % rs_str(origin))
w('/// Prefixes in the table (every table).')
w('pub const ENTRIES: usize = %d;' % total)
w('/// Prefixes per table: MA-L, MA-M, MA-S and IAB.')
w('pub const ENTRIES_BY_BITS: [(u8, usize); 3] = [(24, %d), (28, %d), (36, %d)];'
  % (len(tables[24]), len(tables[28]), len(tables[36])))
w('/// The dictionary\'s length: oui.bin[..DICT_LEN].')
w('pub const DICT_LEN: usize = %d;' % len(dictionary))
w('/// The largest inflated block.')
w('pub const BLOCK_MAX: usize = %d;' % block_max)
w('/// oui.bin\'s length (the end of the last block).')
w('pub const BLOB_LEN: usize = %d;' % blob_len)
w('')
w('/// The common names: (offset, length) in the dictionary; a block names common name i as i + 1.')
w('#[rustfmt::skip]')
w('pub static COMMON: [(u16, u8); %d] = [' % len(cspan))
for k in range(0, len(cspan), 8):
    w('    ' + ' '.join('(%d, %d),' % s for s in cspan[k:k + 8]))
w('];')
for bits, nm in ((28, 'PARENTS_28'), (36, 'PARENTS_36')):
    parents = sorted(set(k >> (bits - 24) for k, _ in tables[bits]))
    w('')
    w('/// The MA-L prefixes (24 bits) that the %d-bit prefixes lie under: a lookup inflates' % bits)
    w('/// a block of the %d-bit table only for a MAC address under one of these.' % bits)
    w('#[rustfmt::skip]')
    w('pub static %s: [u32; %d] = [' % (nm, len(parents)))
    for k in range(0, len(parents), 8):
        w('    ' + ' '.join('0x%06x,' % e for e in parents[k:k + 8]))
    w('];')
for bits, nm in ((24, 'INDEX_24'), (28, 'INDEX_28'), (36, 'INDEX_36')):
    idx = index[bits]
    w('')
    w('/// The %d-bit table: (first prefix, start, end in oui.bin) of each block.' % bits)
    w('#[rustfmt::skip]')
    w('pub static %s: [(u64, u32, u32); %d] = [' % (nm, len(idx)))
    for k in range(0, len(idx), 3):
        w('    ' + ' '.join('(0x%x, %d, %d),' % e for e in idx[k:k + 3]))
    w('];')
with open(out_dir + '/data.rs', 'w', encoding='utf-8') as f:
    f.write('\n'.join(o) + '\n')
with open(out_dir + '/oui.bin', 'wb') as f:
    f.write(blob)
print('refresh-oui: %d prefixes, %d names (%d common), dictionary %d B, blocks %d B, largest block %d B, registry of %s -> %s/oui.bin, data.rs'
      % (total, len(freq), len(common), len(dictionary), blob_len - len(dictionary), block_max, date, out_dir), file=sys.stderr)
PY
