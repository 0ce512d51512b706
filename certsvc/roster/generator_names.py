"""The people of generated rosters: names, identity numbers, mobiles and employers.

Used by ``certsvc.roster.generator``. The tables are plain data in a fixed order (tuples and
strings, never sets), so that a seeded ``random.Random`` picking from them gives the same result
on every run and platform.

Identity numbers are unique by construction: the n-th person of a file gets number n of a keyed
pseudo-random permutation of all the numbers of its kind (a Feistel network with cycle walking),
so no set of the numbers already used is kept. Every kind has at least 10 million numbers, so
numbers are unique in files of up to 10 million rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import accumulate
from math import prod

from certsvc.roster.identity import Gender, IdType, mod11_2_check_char

# --- Chinese names -------------------------------------------------------------------------

# Common surnames with rough relative frequencies (per 10,000 people), most common first,
# then a few compound surnames.
_SURNAME_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("王", 710), ("李", 700), ("张", 670), ("刘", 540), ("陈", 450), ("杨", 310), ("黄", 220),
    ("赵", 200), ("吴", 190), ("周", 190), ("徐", 150), ("孙", 150), ("马", 140), ("朱", 130),
    ("胡", 130), ("郭", 120), ("何", 120), ("高", 110), ("林", 110), ("罗", 100), ("郑", 90),
    ("梁", 90), ("谢", 80), ("宋", 80), ("唐", 70), ("许", 70), ("韩", 70), ("冯", 70),
    ("邓", 70), ("曹", 70), ("彭", 60), ("曾", 60), ("肖", 60), ("田", 60), ("董", 50),
    ("袁", 50), ("潘", 50), ("于", 50), ("蒋", 50), ("蔡", 50), ("余", 50), ("杜", 50),
    ("叶", 50), ("程", 50), ("苏", 40), ("魏", 40), ("吕", 40), ("丁", 40), ("任", 40),
    ("沈", 40), ("姚", 40), ("卢", 40), ("姜", 40), ("崔", 40), ("钟", 40), ("谭", 40),
    ("陆", 30), ("汪", 30), ("范", 30), ("金", 30), ("石", 30), ("廖", 30), ("贾", 30),
    ("夏", 30), ("韦", 30), ("付", 30), ("方", 30), ("白", 30), ("邹", 30), ("孟", 30),
    ("熊", 30), ("秦", 30), ("邱", 30), ("江", 30), ("尹", 30), ("薛", 30), ("闫", 30),
    ("段", 30), ("雷", 30), ("侯", 30), ("龙", 20), ("史", 20), ("陶", 20), ("黎", 20),
    ("贺", 20), ("顾", 20), ("毛", 20), ("郝", 20), ("龚", 20), ("邵", 20), ("万", 20),
    ("钱", 20), ("严", 20), ("覃", 20), ("武", 20), ("戴", 20), ("莫", 20), ("孔", 20),
    ("向", 20), ("汤", 20), ("欧阳", 4), ("司马", 1), ("上官", 1), ("诸葛", 1), ("司徒", 1),
)  # fmt: skip
SURNAMES: tuple[str, ...] = tuple(surname for surname, _ in _SURNAME_WEIGHTS)
SURNAME_CUM_WEIGHTS: tuple[int, ...] = tuple(accumulate(weight for _, weight in _SURNAME_WEIGHTS))

GIVEN_MALE = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭龙林阳建国志东海峰"
    "亮成永博翔昊哲睿轩泽宏毅坤川"
)
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧莹倩颖琳洁梅兰萍红晶薇妍欣怡悦蕾璐琪瑶雯岚婧茜晗菲楠丹"
GIVEN_NEUTRAL = "晓小子一思嘉雨佳安云清宁心梓诗逸晨文天新春立"

# Characters that are rare but used in real given names. The BMP ones are in GB 2312's
# extension or CJK Unified Ideographs; the others are CJK Extension A (䶮 U+4DAE), B (𠮷
# U+20BB7) and E (𬘭 U+2C62D, 𬌗 U+2C317) -- all assigned code points in Unicode 14.
RARE_GIVEN_BMP = "堃喆赟燚淼玥珺龑昇旻彧翀犇垚"
RARE_GIVEN_EXTENDED: tuple[str, ...] = ("\u4dae", "\U00020bb7", "\U0002c62d", "\U0002c317")

RARE_NAME_SHARE = 0.01
SINGLE_CHAR_GIVEN_SHARE = 0.3

# Uyghur names: given name, the middle dot U+00B7, the father's given name.
MINORITY_MALE: tuple[str, ...] = (
    "买买提", "艾力", "阿不都热合曼", "艾尔肯", "吐尔逊", "库尔班", "阿布力孜", "亚森",
    "肉孜", "艾合买提", "阿迪力", "依明", "热合曼", "帕尔哈提", "麦麦提敏",
)  # fmt: skip
MINORITY_FEMALE: tuple[str, ...] = (
    "阿依古丽", "热依拉", "古丽娜尔", "帕提古丽", "迪丽努尔", "努尔古丽", "米热古丽",
    "祖丽菲亚", "阿依努尔", "再努尔",
)  # fmt: skip


def chinese_name(rng: random.Random, gender: Gender) -> str:
    """A Chinese name: weighted surname, one or two given-name characters, 1% rare ones."""
    surname = rng.choices(SURNAMES, cum_weights=SURNAME_CUM_WEIGHTS)[0]
    pool = (GIVEN_MALE if gender is Gender.MALE else GIVEN_FEMALE) + GIVEN_NEUTRAL
    first = rng.choice(pool)
    if rng.random() < SINGLE_CHAR_GIVEN_SHARE:
        given = [first]
    else:
        second = rng.choice(pool)
        if second == first and gender is Gender.MALE:
            second = rng.choice(GIVEN_MALE)  # reduplicated names (婷婷) are mostly women's
        given = [first, second]
    if rng.random() < RARE_NAME_SHARE:
        rare = rng.choice(RARE_GIVEN_EXTENDED) if rng.random() < 0.5 else rng.choice(RARE_GIVEN_BMP)
        given[-1] = rare
    return surname + "".join(given)


def minority_name(rng: random.Random, gender: Gender) -> str:
    """A Uyghur name written with the middle dot, e.g. 阿依古丽·买买提."""
    own = rng.choice(MINORITY_MALE if gender is Gender.MALE else MINORITY_FEMALE)
    father = rng.choice(MINORITY_MALE)
    while father == own:
        father = rng.choice(MINORITY_MALE)
    return f"{own}\u00b7{father}"


# --- Latin names for foreigners -----------------------------------------------------------

# style -> (male given names, female given names, family names, family name first?)
_LatinStyle = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]
LATIN_STYLES: dict[str, _LatinStyle] = {
    "english": (
        ("John", "James", "Michael", "David", "William", "Thomas", "Daniel", "Andrew", "Peter"),
        ("Anna", "Sarah", "Emily", "Jessica", "Laura", "Emma", "Olivia", "Mary-Jane", "Kate"),
        ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "O'Neil", "O'Brien",
         "MacDonald", "Thompson", "Walker", "Harris", "Robinson", "Anderson"),
        False,
    ),
    "german": (
        ("Lukas", "Jürgen", "Stefan", "Matthias", "Jan", "Felix", "Tobias", "Karl-Heinz"),
        ("Anna-Maria", "Katharina", "Julia", "Sabine", "Lena", "Sophie", "Jana"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schäfer", "Hoffmann", "Köhler"),
        False,
    ),
    "french": (
        ("Pierre", "Jean-Luc", "François", "Nicolas", "Julien", "Antoine", "Mathieu"),
        ("Camille", "Chloé", "Marie-Claire", "Élodie", "Céline", "Sophie", "Amélie"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Rousseau",
         "Fontaine"),
        False,
    ),
    "japanese": (
        ("Hiroshi", "Takeshi", "Kenji", "Haruto", "Yuto", "Daisuke"),
        ("Yuki", "Haruka", "Aiko", "Misaki", "Sakura", "Yui"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
        True,
    ),
    "korean": (
        ("Min-jun", "Seo-jun", "Ji-hoon", "Hyun-woo", "Dong-hyun", "Jae-won"),
        ("Seo-yeon", "Ji-woo", "Min-seo", "Ha-eun", "Su-bin", "Ye-jin"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"),
        True,
    ),
    "singaporean": (
        ("Wei Ming", "Jun Jie", "Kai Xiang", "Zhi Hao", "Jia Hui"),
        ("Mei Ling", "Hui Min", "Xin Yi", "Li Ting", "Shu Fen"),
        ("Tan", "Lim", "Lee", "Ng", "Ong", "Wong", "Goh", "Chua"),
        True,
    ),
}  # fmt: skip


def latin_name(rng: random.Random, gender: Gender, style: str) -> str:
    """A foreigner's name as in the passport, e.g. 'Anna-Maria Müller' or 'Kim Min-jun'."""
    male, female, family_names, family_first = LATIN_STYLES[style]
    given = rng.choice(male if gender is Gender.MALE else female)
    family = rng.choice(family_names)
    return f"{family} {given}" if family_first else f"{given} {family}"


# --- region codes (GB/T 2260) ---------------------------------------------------------------

REGIONS_BEIJING: tuple[tuple[str, str], ...] = (
    ("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"), ("110106", "丰台区"),
    ("110107", "石景山区"), ("110108", "海淀区"), ("110111", "房山区"), ("110112", "通州区"),
    ("110114", "昌平区"),
)  # fmt: skip
REGIONS_OTHER: tuple[tuple[str, str], ...] = (
    ("120101", "天津市和平区"), ("130102", "石家庄市长安区"), ("140105", "太原市小店区"),
    ("210102", "沈阳市和平区"), ("220102", "长春市南关区"), ("230102", "哈尔滨市道里区"),
    ("310101", "上海市黄浦区"), ("310104", "上海市徐汇区"), ("310115", "上海市浦东新区"),
    ("320102", "南京市玄武区"), ("330106", "杭州市西湖区"), ("340104", "合肥市蜀山区"),
    ("350102", "福州市鼓楼区"), ("360102", "南昌市东湖区"), ("370102", "济南市历下区"),
    ("370202", "青岛市市南区"), ("410105", "郑州市金水区"), ("420106", "武汉市武昌区"),
    ("430104", "长沙市岳麓区"), ("440104", "广州市越秀区"), ("440305", "深圳市南山区"),
    ("450103", "南宁市青秀区"), ("500103", "重庆市渝中区"), ("510107", "成都市武侯区"),
    ("530102", "昆明市五华区"), ("610113", "西安市雁塔区"), ("620102", "兰州市城关区"),
)  # fmt: skip
REGIONS_XINJIANG: tuple[tuple[str, str], ...] = (
    ("650102", "乌鲁木齐市天山区"), ("650103", "乌鲁木齐市沙依巴克区"),
    ("650104", "乌鲁木齐市新市区"), ("650105", "乌鲁木齐市水磨沟区"),
)  # fmt: skip

# Mainland mobile prefixes in use (3 digits; 8 more digits follow).
MOBILE_PREFIXES: tuple[str, ...] = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182",
    "183", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip

# --- employers ------------------------------------------------------------------------------

BEIJING_DISTRICTS: tuple[str, ...] = (
    "东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "门头沟区", "房山区",
    "通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区",
)  # fmt: skip

# Work units by sector. The first ones of a sector also hold their own review committees.
WORK_UNITS: dict[str, tuple[str, ...]] = {
    "engineering": (
        "北京城建集团有限责任公司", "北京汽车集团有限公司", "北京市建筑设计研究院有限公司",
        "北京百度网讯科技有限公司", "小米科技有限责任公司", "京东方科技集团股份有限公司",
        "北京字节跳动科技有限公司", "联想（北京）有限公司", "用友网络科技股份有限公司",
        "北京市市政工程设计研究总院有限公司", "北京燃气集团有限责任公司",
        "北京市自来水集团有限责任公司", "北京市地铁运营有限公司",
        "中国建筑一局（集团）有限公司", "北京北方华创微电子装备有限公司",
        "北京市环境保护科学研究院",
    ),
    "finance": (
        "北京银行股份有限公司", "北京控股集团有限公司",
        "中国工商银行股份有限公司北京市分行", "中国农业银行股份有限公司北京市分行",
        "北京农村商业银行股份有限公司", "中信证券股份有限公司", "北京首都创业集团有限公司",
        "北京市国有资产经营有限责任公司", "中国人民财产保险股份有限公司北京市分公司",
        "北京百度网讯科技有限公司", "京东方科技集团股份有限公司",
    ),
    "accounting": (
        "北京首都创业集团有限公司", "信永中和会计师事务所（特殊普通合伙）",
        "致同会计师事务所（特殊普通合伙）", "天职国际会计师事务所（特殊普通合伙）",
        "北京银行股份有限公司", "北京城建集团有限责任公司", "北京市海淀区教育委员会",
        "北京市朝阳区卫生健康委员会", "北京市东城区财政局", "小米科技有限责任公司",
        "北京汽车集团有限公司",
    ),
    "health": (
        "北京协和医院", "北京大学第一医院", "中日友好医院", "北京大学人民医院",
        "北京大学第三医院", "首都医科大学附属北京同仁医院", "首都医科大学附属北京天坛医院",
        "首都医科大学附属北京朝阳医院", "首都医科大学宣武医院", "北京积水潭医院",
        "首都医科大学附属北京儿童医院", "北京市海淀医院", "北京市朝阳区妇幼保健院",
    ),
    "schools": (
        "北京市第四中学", "北京市第八中学", "北京市第二中学", "中国人民大学附属中学",
        "北京师范大学附属实验中学", "清华大学附属中学", "北京大学附属中学", "北京景山学校",
        "北京小学", "北京市海淀区中关村第一小学", "北京市东城区史家胡同小学",
        "北京市西城区实验小学", "北京市朝阳区芳草地国际学校",
    ),
}  # fmt: skip
# How many of a sector's first work units hold their own committees.
SELF_REVIEWING_UNITS: dict[str, int] = {
    "engineering": 3,
    "finance": 2,
    "accounting": 1,
    "health": 3,
    "schools": 0,
}

REMARKS: tuple[str, ...] = (
    "破格申报",
    "转系列评审",
    "援疆援藏人员",
    "博士后出站人员",
    "海外高层次人才",
    "基层一线专业技术人员",
)


def random_stream(seed: int, name: str) -> random.Random:
    """An independent random stream; string seeds are hashed with SHA-512, not ``hash()``."""
    return random.Random(f"certsvc.roster.generator/{seed}/{name}")  # noqa: S311 - test data


# --- identity numbers -----------------------------------------------------------------------

_FIRST_BIRTH = date(1960, 1, 1)
_BIRTH_DAYS = (date(1998, 12, 31) - _FIRST_BIRTH).days + 1
_SEQUENCES = 999  # sequence codes 001-999
_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Permutation:
    """A keyed pseudo-random permutation of ``range(size)``: a four-round Feistel network on
    the smallest even number of bits covering ``size``, cycle-walking back into range."""

    def __init__(self, size: int, key: str) -> None:
        bits = max(2, (size - 1).bit_length())
        bits += bits % 2
        self._size = size
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        rng = random.Random(key)  # noqa: S311 - test data, not secrets
        self._keys = tuple(rng.getrandbits(32) for _ in range(4))

    def _round(self, value: int, key: int) -> int:
        x = ((value ^ key) * 0x9E3779B1) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x85EBCA6B) & 0xFFFFFFFF
        x ^= x >> 13
        return x & self._mask

    def __call__(self, index: int) -> int:
        value = index % self._size
        while True:
            left, right = value >> self._half, value & self._mask
            for key in self._keys:
                left, right = right, left ^ self._round(right, key)
            value = (left << self._half) | right
            if value < self._size:
                return value


class _BirthNumbers:
    """18-character numbers laid out as GB 11643: a 6-character prefix (region code, 810000,
    or 9 + province + country number), the birth date, a sequence code whose last digit is odd
    for men, and the MOD 11-2 check character."""

    def __init__(self, prefixes: tuple[str, ...], key: str) -> None:
        self._prefixes = prefixes
        self._permutation = _Permutation(len(prefixes) * _BIRTH_DAYS * _SEQUENCES, key)

    def number(self, index: int) -> tuple[str, date, Gender]:
        rest, sequence = divmod(self._permutation(index), _SEQUENCES)
        prefix, day = divmod(rest, _BIRTH_DAYS)
        born = _FIRST_BIRTH + timedelta(days=day)
        first17 = f"{self._prefixes[prefix]}{born:%Y%m%d}{sequence + 1:03d}"
        gender = Gender.MALE if (sequence + 1) % 2 else Gender.FEMALE
        return first17 + mod11_2_check_char(first17), born, gender


class _PatternNumbers:
    """Numbers of a fixed shape: one alphabet per position (e.g. H + 8 digits)."""

    def __init__(self, alphabets: tuple[str, ...], key: str) -> None:
        self._alphabets = alphabets
        self._permutation = _Permutation(prod(len(a) for a in alphabets), key)

    def number(self, index: int) -> str:
        value = self._permutation(index)
        chars: list[str] = []
        for alphabet in reversed(self._alphabets):
            value, position = divmod(value, len(alphabet))
            chars.append(alphabet[position])
        return "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class _Country:
    alpha3: str
    numeric: str  # ISO 3166-1 numeric, in the permanent residence card number
    name_style: str  # key of LATIN_STYLES
    passport: tuple[str, ...]  # alphabets of the passport number, one per position
    weight: int


_COUNTRIES: tuple[_Country, ...] = (
    _Country("USA", "840", "english", (_DIGITS,) * 9, 25),
    _Country("DEU", "276", "german", ("C", "FGHJKLMNPRTVWXYZ", *(_DIGITS,) * 7), 12),
    _Country("GBR", "826", "english", (_DIGITS,) * 9, 12),
    _Country("JPN", "392", "japanese", ("T", "KRZ", *(_DIGITS,) * 7), 12),
    _Country("KOR", "410", "korean", ("M", *(_DIGITS,) * 8), 12),
    _Country("FRA", "250", "french", (_DIGITS, _DIGITS, _LETTERS, _LETTERS, *(_DIGITS,) * 5), 8),
    _Country("CAN", "124", "english", (_LETTERS, _LETTERS, *(_DIGITS,) * 6), 8),
    _Country("AUS", "036", "english", ("NP", *(_DIGITS,) * 7), 6),
    _Country("SGP", "702", "singaporean", ("EK", *(_DIGITS,) * 7, _LETTERS), 5),
)
_COUNTRY_CUM_WEIGHTS = tuple(accumulate(country.weight for country in _COUNTRIES))
_PERMANENT_RESIDENCE_PROVINCES = ("11", "31", "44")  # cards issued in 北京, 上海, 广东


class Origin(StrEnum):
    """Where a person comes from, which decides the identity document."""

    RESIDENT = "resident"
    GAT_PERMIT = "gat_permit"
    HKMO_PERMIT = "hkmo_permit"
    TW_PERMIT = "tw_permit"
    PERMANENT_RESIDENCE = "permanent_residence"
    PASSPORT = "passport"


# Per 10,000 people: 97% mainland residents, 3% others.
_ORIGIN_WEIGHTS: tuple[tuple[Origin, int], ...] = (
    (Origin.RESIDENT, 9700),
    (Origin.GAT_PERMIT, 60),
    (Origin.HKMO_PERMIT, 80),
    (Origin.TW_PERMIT, 50),
    (Origin.PERMANENT_RESIDENCE, 40),
    (Origin.PASSPORT, 70),
)
_ORIGINS = tuple(origin for origin, _ in _ORIGIN_WEIGHTS)
_ORIGIN_CUM_WEIGHTS = tuple(accumulate(weight for _, weight in _ORIGIN_WEIGHTS))
_MINORITY_SHARE = 0.01
_BEIJING_BORN_SHARE = 0.6
_GAT_PREFIXES = ("810000", "820000", "830000")  # Hong Kong, Macao, Taiwan
_GAT_CUM_WEIGHTS = (45, 60, 100)


@dataclass(frozen=True, slots=True)
class Person:
    """One person as the roster shows them (the 国籍 cell is ``country``)."""

    name: str
    id_type: IdType
    id_number: str
    country: str  # the 国籍 cell: nationality of foreigners, else empty
    gender: Gender
    birth_date: date
    work_unit: str
    mobile: str


class PersonFactory:
    """Makes people with identity numbers that are unique within a file."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random_stream(seed, "people")
        self._count = 0
        self._birth_numbers: dict[str, _BirthNumbers] = {}
        self._pattern_numbers: dict[str, _PatternNumbers] = {}

    def _births(self, label: str, prefixes: tuple[str, ...]) -> _BirthNumbers:
        if label not in self._birth_numbers:
            key = f"certsvc.roster.generator/{self._seed}/ids/{label}"
            self._birth_numbers[label] = _BirthNumbers(prefixes, key)
        return self._birth_numbers[label]

    def _patterns(self, label: str, alphabets: tuple[str, ...]) -> _PatternNumbers:
        if label not in self._pattern_numbers:
            key = f"certsvc.roster.generator/{self._seed}/ids/{label}"
            self._pattern_numbers[label] = _PatternNumbers(alphabets, key)
        return self._pattern_numbers[label]

    def make(self, work_units: tuple[str, ...], origin: Origin | None = None) -> Person:
        """A new person working at one of ``work_units``; ``origin`` forces the document."""
        rng = self._rng
        index = self._count
        self._count += 1
        if origin is None:
            origin = rng.choices(_ORIGINS, cum_weights=_ORIGIN_CUM_WEIGHTS)[0]
        work_unit = rng.choice(work_units)
        match origin:
            case Origin.RESIDENT:
                return self._resident(index, work_unit)
            case Origin.GAT_PERMIT:
                prefix = rng.choices(_GAT_PREFIXES, cum_weights=_GAT_CUM_WEIGHTS)[0]
                number, born, gender = self._births(f"gat-{prefix}", (prefix,)).number(index)
                region = {"810000": "HK", "820000": "MO"}.get(prefix, "TW")
                return Person(
                    chinese_name(rng, gender),
                    IdType.GAT_RESIDENCE_PERMIT,
                    number,
                    "",
                    gender,
                    born,
                    work_unit,
                    self._mobile(region),
                )
            case Origin.HKMO_PERMIT:
                letter = "H" if rng.random() < 0.75 else "M"
                number = self._patterns(f"hkmo-{letter}", (letter, *(_DIGITS,) * 8)).number(index)
                gender = self._gender()
                return Person(
                    chinese_name(rng, gender),
                    IdType.HKMO_TRAVEL_PERMIT,
                    number,
                    "",
                    gender,
                    self._birth_date(),
                    work_unit,
                    self._mobile("HK" if letter == "H" else "MO"),
                )
            case Origin.TW_PERMIT:
                gender = self._gender()
                return Person(
                    chinese_name(rng, gender),
                    IdType.TW_TRAVEL_PERMIT,
                    self._patterns("tw", (_DIGITS,) * 8).number(index),
                    "",
                    gender,
                    self._birth_date(),
                    work_unit,
                    self._mobile("CN"),
                )
            case Origin.PERMANENT_RESIDENCE:
                country = self._country()
                prefixes = tuple(f"9{p}{country.numeric}" for p in _PERMANENT_RESIDENCE_PROVINCES)
                births = self._births(f"fpr-{country.alpha3}", prefixes)
                number, born, gender = births.number(index)
                return Person(
                    latin_name(rng, gender, country.name_style),
                    IdType.FOREIGN_PERMANENT_RESIDENCE,
                    number,
                    country.alpha3,
                    gender,
                    born,
                    work_unit,
                    self._mobile("CN"),
                )
            case Origin.PASSPORT:
                country = self._country()
                gender = self._gender()
                passports = self._patterns(f"passport-{country.alpha3}", country.passport)
                return Person(
                    latin_name(rng, gender, country.name_style),
                    IdType.FOREIGN_PASSPORT,
                    passports.number(index),
                    country.alpha3,
                    gender,
                    self._birth_date(),
                    work_unit,
                    self._mobile("CN"),
                )

    def _resident(self, index: int, work_unit: str) -> Person:
        rng = self._rng
        minority = rng.random() < _MINORITY_SHARE
        if minority:
            label, regions = "xinjiang", REGIONS_XINJIANG
        elif rng.random() < _BEIJING_BORN_SHARE:
            label, regions = "beijing", REGIONS_BEIJING
        else:
            label, regions = "other", REGIONS_OTHER
        births = self._births(f"resident-{label}", tuple(code for code, _ in regions))
        number, born, gender = births.number(index)
        name = minority_name(rng, gender) if minority else chinese_name(rng, gender)
        return Person(
            name, IdType.RESIDENT_ID, number, "", gender, born, work_unit, self._mobile("CN")
        )

    def _gender(self) -> Gender:
        return Gender.MALE if self._rng.random() < 0.5 else Gender.FEMALE

    def _birth_date(self) -> date:
        return _FIRST_BIRTH + timedelta(days=self._rng.randrange(_BIRTH_DAYS))

    def _country(self) -> _Country:
        return self._rng.choices(_COUNTRIES, cum_weights=_COUNTRY_CUM_WEIGHTS)[0]

    def _mobile(self, region: str) -> str:
        rng = self._rng
        if region == "HK":
            return f"+852{rng.choice('5679')}{rng.randrange(10**7):07d}"
        if region == "MO":
            return f"+8536{rng.randrange(10**7):07d}"
        return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
