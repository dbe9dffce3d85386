"""The report's words in English and Chinese (zh-CN).

Labels are plain strings in words/en.toml and words/zh-CN.toml (same keys); messages (targets,
actual values, reasons, gaps) are functions of their arguments and a `Fmt`, so each language
orders and words them itself. The Chinese terms
follow the standard's own text (平均无故障间隔时间, 软件平均故障恢复时间, 日故障率, 完全备份 ...).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh-CN")


class Fmt:
    """Numbers, durations and sizes as one language writes them; None is a dash."""

    def __init__(self, lang: str) -> None:
        self.zh = lang == "zh-CN"

    def pct(self, x: float | None, digits: int = 2) -> str:
        if x is None:
            return "–"
        text = f"{x * 100:.{digits}f}".rstrip("0").rstrip(".")
        return f"{text}\u00a0%" if not self.zh else f"{text}%"

    def pct_point(self, x: float | None) -> str:
        """A percentage the ledger already gives in percent (utilisation)."""
        return "–" if x is None else (f"{x:.1f}\u00a0%" if not self.zh else f"{x:.1f}%")

    def num(self, x: float | None, digits: int = 0) -> str:
        return "–" if x is None else f"{x:,.{digits}f}"

    def hours(self, h: float | None) -> str:
        if h is None:
            return "–"
        return f"{h:,.0f}\u00a0h" if h >= 100 else f"{h:,.1f}\u00a0h"

    def dur(self, s: float | None) -> str:
        """A duration in the two largest units that matter: 2 d 3 h, 1 h 5 min, 42 s."""
        if s is None:
            return "–"
        s = round(s)
        units = (("d", "天"), ("h", "小时"), ("min", "分钟"), ("s", "秒"))
        parts = []
        for (en, zh), size in zip(units, (86400, 3600, 60, 1), strict=True):
            n, s = divmod(s, size)
            if n or (size == 1 and not parts):
                parts.append(f"{n}{zh}" if self.zh else f"{n}\u00a0{en}")
        return ("" if self.zh else "\u00a0").join(parts[:2])

    def minutes(self, s: float | None) -> str:
        return "–" if s is None else f"{s / 60:,.0f}"

    def size(self, n: float | None) -> str:
        if n is None:
            return "–"
        value = float(n)
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if value < 1024 or unit == "TiB":
                return f"{value:,.0f}\u00a0{unit}" if unit == "B" else f"{value:,.1f}\u00a0{unit}"
            value /= 1024
        return ""


Message = Callable[[dict[str, Any], Fmt], str]
# A number keeps its unit and a comparison its number on one line ("< 12 h" never breaks).
_GLUE = re.compile(r"(?<=\d) (?=(?:h|min|d|s|GiB|MiB|KiB|TiB|B)\b|%)|(?<=[<>≤≥]) (?=\d)")

WORDS = Path(__file__).with_name("words")


def _labels(lang: str) -> dict[str, str]:
    with (WORDS / f"{lang}.toml").open("rb") as f:
        return tomllib.load(f)


EN_LABELS = _labels("en")
ZH_LABELS = _labels("zh-CN")


def _en(a: dict[str, Any], f: Fmt, key: str) -> str:
    m: dict[str, Callable[[], str]] = {
        "target.availability": lambda: "per service objective (default 99.9 %)",
        "target.utilisation": lambda: f"average ≤ {a['average']:.0f} %, memory/disk peak ≤ {a['peak']:.0f} %",
        "target.mtbf": lambda: f"≥ {f.num(a['hours'])} h",
        "target.mtrs": lambda: f"< {a['hours']:.0f} h",
        "target.daily_failure": lambda: f"< {f.pct(a['limit'])} every day",
        "target.backup_types": lambda: "at least one method",
        "target.locations": lambda: "local and offsite",
        "target.schedules": lambda: "every scheduled slot on time",
        "target.verification": lambda: "byte, CRC or fast scan; no damage",
        "target.failover": lambda: "standby restore works",
        "target.recovery_time": lambda: "general < 1 h, severe < 12 h",
        "target.completeness": lambda: "general 100 %, severe > 98 %",
        "actual.availability": lambda: f"lowest {f.pct(a['value'], 3)} ({a['service']})",
        "actual.utilisation": lambda: f"CPU {f.pct_point(a['cpu_avg'])} / {f.pct_point(a['cpu_peak'])}, "
                                      f"memory {f.pct_point(a['mem_avg'])} / {f.pct_point(a['mem_peak'])}",
        "actual.mtbf": lambda: f"{f.hours(a['hours'])} (≥ {f.hours(a['lower'])} at 90 %)",
        "actual.mtbf_none": lambda: f"no failure in {f.hours(a['operating'])}",
        "actual.mtrs": lambda: f"{f.dur(a['seconds'])} over {a['restored']}",
        "actual.daily_failure": lambda: f"worst {f.pct(a['worst'], 3)} ({a['day']})",
        "actual.types": lambda: a["types"],
        "actual.local_only": lambda: "local only",
        "actual.locations": lambda: f"local + {a['targets']} ({a['copied']} copied)",
        "actual.schedules": lambda: f"{a['late']} late of {a['scheduled']}",
        "actual.verification": lambda: f"{a['runs']} runs, {a['backups']} backups ({a['modes']})",
        "actual.drills": lambda: f"{a['passed']} of {a['count']} passed",
        "actual.recovery_time": lambda: f"longest {f.dur(a['seconds'])} ({_word(a['scenario'], 'en')})",
        "actual.completeness": lambda: f"lowest {f.pct(a['value'])} ({_word(a['scenario'], 'en')})",
        "why.no_services": lambda: "no service is probed, so the ledger has no figure",
        "why.availability_below": lambda: f"{a['service']}: {f.pct(a['value'], 3)} < {f.pct(a['objective'], 3)} "
                                          f"({a['down_minutes']} min down)",
        "why.coverage_low": lambda: f"{a['service']} measured only {f.pct(a['coverage'], 1)} of the month (< 90 %)",
        "why.availability_met": lambda: f"all {a['count']} services met their objective",
        "why.no_utilisation": lambda: "no utilisation sample in this month",
        "why.utilisation_over": lambda: f"over the limit: {a['metrics']}",
        "why.utilisation_coverage": lambda: f"sampled {f.pct(a['coverage'], 1)} of the month (< 90 %)",
        "why.utilisation_ok": lambda: "within the limits",
        "why.mtbf_failures": lambda: f"{a['failures']} failures in {f.hours(a['operating'])} (trailing 12 months)",
        "why.mtbf_no_failures": lambda: f"no failure in {f.hours(a['operating'])}",
        "why.mtbf_short": lambda: f"no failure yet, but only {f.hours(a['operating'])} measured (< {f.num(a['target'])} h)",
        "why.mtrs_open": lambda: f"{a['service']} down for {f.dur(a['seconds'])}, longer than the target",
        "why.mtrs_mean": lambda: f"mean of {a['restored']} restored {_word(a['cls'], 'en')} incidents",
        "why.mtrs_none": lambda: f"no {_word(a['cls'], 'en')} incident",
        "why.mtrs_open_within": lambda: f"none restored yet; {a['count']} {_word(a['cls'], 'en')} incident(s) open, "
                                        f"the oldest {f.dur(a['seconds'])}, within the target",
        "why.mtrs_no_data": lambda: f"no {_word(a['cls'], 'en')} incident, and the month was not measured enough",
        "why.no_checks": lambda: "no check was recorded",
        "why.days_over": lambda: f"{a['count']} day(s) over 1 %, first {a['first']}",
        "why.days_unmeasured": lambda: f"only {a['measured']} of {a['days']} days had checks",
        "why.days_ok": lambda: f"every day under 1 % ({f.num(a['checks'])} checks)",
        "why.no_backups": lambda: "no backup ran in this month",
        "why.no_success": lambda: "every backup of the month failed",
        "why.types_ok": lambda: f"{a['succeeded']} successful backups",
        "why.no_offsite_target": lambda: "no offsite target is configured",
        "why.nothing_offsite": lambda: "nothing of this month reached the offsite target",
        "why.offsite_lag": lambda: f"worst offsite lag {f.dur(a['seconds'])}",
        "why.late": lambda: f"{a['policy']} {_word(a['type'], 'en')}: {a['late']} late, recovery point up to "
                            f"{f.dur(a['age'])} old",
        "why.on_time": lambda: "every schedule kept",
        "why.no_slots": lambda: "no scheduled slot came due after the first backups",
        "why.no_verification": lambda: "no verification ran in this month",
        "why.damage": lambda: f"damage found in {a['count']} backup(s)",
        "why.no_damage": lambda: f"{f.size(a['bytes'])} re-read, no damage",
        "why.no_drills": lambda: "no recovery drill ran in this month",
        "why.drills_failed": lambda: f"{a['failed']} of {a['count']} drills failed",
        "why.drills_unverified": lambda: "a drill could not check everything it should",
        "why.drills_passed": lambda: f"all {a['count']} drills passed",
        "why.rto_missed": lambda: f"{_word(a['scenario'], 'en')} drill took {f.dur(a['seconds'])} "
                                  f"(target {f.dur(a['target'])})",
        "why.rto_met": lambda: f"all {a['count']} timed drills within target",
        "why.drills_untimed": lambda: "no drill measured a recovery time",
        "why.incomplete": lambda: f"{_word(a['scenario'], 'en')} drill recovered {f.pct(a['value'])} "
                                  f"(target {f.pct(a['target'])})",
        "why.complete": lambda: f"all {a['count']} drills complete",
        "why.drills_unmeasured": lambda: "no drill measured its completeness",
        "gap.coverage": lambda: ("the ledger measured none of the month" if a["coverage"] is None
                                 else f"the ledger measured {f.pct(a['coverage'], 1)} of the month; "
                                      "unmeasured time counts neither as up nor as down"),
        "gap.days": lambda: "not measured: " + ", ".join(f"{d['date']} ({f.dur(d['seconds'])})" for d in a["days"])
                            + (f" and {a['more']} more days" if a["more"] else ""),
    }
    return m[key]()


def _zh(a: dict[str, Any], f: Fmt, key: str) -> str:
    m: dict[str, Callable[[], str]] = {
        "target.availability": lambda: "各服务目标值（默认 99.9%）",
        "target.utilisation": lambda: f"平均 ≤ {a['average']:.0f}%，内存/磁盘峰值 ≤ {a['peak']:.0f}%",
        "target.mtbf": lambda: f"≥ {f.num(a['hours'])} h",
        "target.mtrs": lambda: f"< {a['hours']:.0f} h",
        "target.daily_failure": lambda: f"每日 < {f.pct(a['limit'])}",
        "target.backup_types": lambda: "至少一种方式",
        "target.locations": lambda: "本地及异地",
        "target.schedules": lambda: "每个计划时段按时",
        "target.verification": lambda: "字节、CRC 或快速扫描；无损坏",
        "target.failover": lambda: "备用位置恢复可用",
        "target.recovery_time": lambda: "一般 < 1 h，严重 < 12 h",
        "target.completeness": lambda: "一般 100%，严重 > 98%",
        "actual.availability": lambda: f"最低 {f.pct(a['value'], 3)}（{a['service']}）",
        "actual.utilisation": lambda: f"CPU {f.pct_point(a['cpu_avg'])} / {f.pct_point(a['cpu_peak'])}，"
                                      f"内存 {f.pct_point(a['mem_avg'])} / {f.pct_point(a['mem_peak'])}",
        "actual.mtbf": lambda: f"{f.hours(a['hours'])}（90% 置信下限 {f.hours(a['lower'])}）",
        "actual.mtbf_none": lambda: f"{f.hours(a['operating'])} 内无故障",
        "actual.mtrs": lambda: f"{f.dur(a['seconds'])}（{a['restored']} 次）",
        "actual.daily_failure": lambda: f"最高 {f.pct(a['worst'], 3)}（{a['day']}）",
        "actual.types": lambda: "、".join(_word(t.strip(), "zh-CN") for t in a["types"].split(",")),
        "actual.local_only": lambda: "仅本地",
        "actual.locations": lambda: f"本地 + {a['targets']}（已复制 {a['copied']} 个）",
        "actual.schedules": lambda: f"{a['scheduled']} 个时段中 {a['late']} 个延迟",
        "actual.verification": lambda: f"{a['runs']} 次，{a['backups']} 个备份（{a['modes']}）",
        "actual.drills": lambda: f"{a['count']} 次中 {a['passed']} 次通过",
        "actual.recovery_time": lambda: f"最长 {f.dur(a['seconds'])}（{_word(a['scenario'], 'zh-CN')}）",
        "actual.completeness": lambda: f"最低 {f.pct(a['value'])}（{_word(a['scenario'], 'zh-CN')}）",
        "why.no_services": lambda: "没有被探测的服务，台账中没有数据",
        "why.availability_below": lambda: f"{a['service']}：{f.pct(a['value'], 3)} < {f.pct(a['objective'], 3)}"
                                          f"（中断 {a['down_minutes']} 分钟）",
        "why.coverage_low": lambda: f"{a['service']} 仅测量了本月的 {f.pct(a['coverage'], 1)}（< 90%）",
        "why.availability_met": lambda: f"全部 {a['count']} 个服务达到目标",
        "why.no_utilisation": lambda: "本月没有利用率采样",
        "why.utilisation_over": lambda: f"超出限值：{a['metrics']}",
        "why.utilisation_coverage": lambda: f"仅采样了本月的 {f.pct(a['coverage'], 1)}（< 90%）",
        "why.utilisation_ok": lambda: "在限值以内",
        "why.mtbf_failures": lambda: f"近 12 个月 {f.hours(a['operating'])} 内故障 {a['failures']} 次",
        "why.mtbf_no_failures": lambda: f"{f.hours(a['operating'])} 内无故障",
        "why.mtbf_short": lambda: f"尚无故障，但仅测量了 {f.hours(a['operating'])}（< {f.num(a['target'])} h）",
        "why.mtrs_open": lambda: f"{a['service']} 已中断 {f.dur(a['seconds'])}，超过目标",
        "why.mtrs_mean": lambda: f"{a['restored']} 次已恢复的{_word(a['cls'], 'zh-CN')}故障的平均值",
        "why.mtrs_none": lambda: f"无{_word(a['cls'], 'zh-CN')}故障",
        "why.mtrs_open_within": lambda: f"尚无已恢复的故障；{a['count']} 个{_word(a['cls'], 'zh-CN')}故障未恢复，"
                                        f"最长 {f.dur(a['seconds'])}，未超过目标",
        "why.mtrs_no_data": lambda: f"无{_word(a['cls'], 'zh-CN')}故障，但本月测量不足",
        "why.no_checks": lambda: "没有检查记录",
        "why.days_over": lambda: f"{a['count']} 天超过 1%，首次为 {a['first']}",
        "why.days_unmeasured": lambda: f"{a['days']} 天中仅 {a['measured']} 天有检查",
        "why.days_ok": lambda: f"每日均低于 1%（{f.num(a['checks'])} 次检查）",
        "why.no_backups": lambda: "本月没有执行备份",
        "why.no_success": lambda: "本月所有备份均失败",
        "why.types_ok": lambda: f"成功备份 {a['succeeded']} 次",
        "why.no_offsite_target": lambda: "未配置异地备份目标",
        "why.nothing_offsite": lambda: "本月的备份均未复制到异地",
        "why.offsite_lag": lambda: f"异地最长延迟 {f.dur(a['seconds'])}",
        "why.late": lambda: f"{a['policy']} {_word(a['type'], 'zh-CN')}：{a['late']} 次延迟，恢复点最长 {f.dur(a['age'])}",
        "why.on_time": lambda: "所有周期均按时执行",
        "why.no_slots": lambda: "首次备份之后尚无到期的计划时段",
        "why.no_verification": lambda: "本月没有执行校验",
        "why.damage": lambda: f"{a['count']} 个备份发现损坏",
        "why.no_damage": lambda: f"重读 {f.size(a['bytes'])}，无损坏",
        "why.no_drills": lambda: "本月没有执行恢复演练",
        "why.drills_failed": lambda: f"{a['count']} 次演练中 {a['failed']} 次未通过",
        "why.drills_unverified": lambda: "有演练未能完成应做的全部检查",
        "why.drills_passed": lambda: f"全部 {a['count']} 次演练通过",
        "why.rto_missed": lambda: f"{_word(a['scenario'], 'zh-CN')}演练用时 {f.dur(a['seconds'])}"
                                  f"（目标 {f.dur(a['target'])}）",
        "why.rto_met": lambda: f"全部 {a['count']} 次计时演练均达标",
        "why.drills_untimed": lambda: "没有演练测得恢复时间",
        "why.incomplete": lambda: f"{_word(a['scenario'], 'zh-CN')}演练恢复了 {f.pct(a['value'])}"
                                  f"（目标 {f.pct(a['target'])}）",
        "why.complete": lambda: f"全部 {a['count']} 次演练完整恢复",
        "why.drills_unmeasured": lambda: "没有演练测得恢复程度",
        "gap.coverage": lambda: ("台账在本月没有任何测量" if a["coverage"] is None
                                 else f"台账测量了本月的 {f.pct(a['coverage'], 1)}；未测量的时间既不计为正常也不计为中断"),
        "gap.days": lambda: "未测量：" + "，".join(f"{d['date']}（{f.dur(d['seconds'])}）" for d in a["days"])
                            + (f" 等，另有 {a['more']} 天" if a["more"] else ""),
    }
    return m[key]()


def _word(word: str, lang: str) -> str:
    return (ZH_LABELS if lang == "zh-CN" else EN_LABELS).get(word, word)


class Words:
    """Everything a template needs to say things in one language."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self.fmt = Fmt(lang)
        self.labels = ZH_LABELS if lang == "zh-CN" else EN_LABELS

    def __call__(self, key: str, **args: Any) -> str:
        text = self.labels[key]
        return text.format(**args) if args else text

    def msg(self, message: dict[str, Any] | None) -> str:
        """A target, actual value, reason or gap kept in the model as {key, args}."""
        if not message:
            return self.labels["none"]
        if message["key"] == "fleet.host":  # a host's own message, in the platform report
            return f"{message['args']['host']}{self.labels['colon']}{self.msg(message['args']['message'])}"
        fn = _zh if self.lang == "zh-CN" else _en
        return _GLUE.sub("\u00a0", fn(message.get("args") or {}, self.fmt, message["key"]))

    def word(self, word: str) -> str:
        return _word(word, self.lang)
