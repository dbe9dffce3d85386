"""Section (j): the terms and formulas the report uses, and the standard's clauses it judges."""

from __future__ import annotations

TERMS = {
    "en": [
        ("Availability", "up time / (measured time − maintenance), per service; judged only when at least 90 % of "
                         "the month outside maintenance was measured."),
        ("Measured coverage", "the share of the month the ledger watched the services; time when reliad did not run is "
                              "unmeasured and counts neither as up nor as down."),
        ("Incident", "a service failure, from its first failed probe to the time the service was restored; "
                     "class software or hardware."),
        ("MTBF", "mean time between failures = operating time / failures over the trailing 12 months, with a 90 % "
                 "chi-square interval (time-terminated)."),
        ("MTRS", "mean time to restore service = mean of (restored − start) over the incidents restored in the month, "
                 "per class."),
        ("Daily failure rate", "per day: failed checks / all checks, where checks are probe rounds and reliad's own "
                               "backup, verify and replication jobs."),
        ("Utilisation", "CPU, memory and disk use sampled every minute: average and peak."),
        ("Recovery point (RPO) age", "how old the newest restorable backup was; the worst value reached in the month "
                                     "is shown."),
        ("Late", "a scheduled slot whose backup started more than a tenth of the period (at least 5 min, plus jitter) "
                 "after it was due."),
        ("Offsite lag", "the longest time a backup of the month waited between finishing locally and being complete "
                        "on the offsite target."),
        ("Drill", "a timed restore into a standby location, verified file by file; recovery time from preparation to "
                  "failover, completeness = verified bytes and files / the backup's."),
        ("Verdicts", "PASS: the target was met. FAIL: it was missed. NOT ENOUGH DATA: too little was measured to judge. "
                     "NOT VERIFIED: a check that should have run did not."),
    ],
    "zh-CN": [
        ("可用率", "正常运行时间 /（测量时间 − 维护时间），按服务计算；维护以外的时间至少 90% 被测量时才给出结论。"),
        ("测量覆盖率", "台账实际监测服务的时间占本月的比例；reliad 未运行的时间视为未测量，既不计为正常也不计为中断。"),
        ("故障事件", "一次服务故障，从第一次探测失败到服务恢复为止；类别为软件或硬件。"),
        ("MTBF", "平均无故障间隔时间 = 近 12 个月运行时间 / 故障次数，附 90% 卡方置信区间（定时截尾）。"),
        ("MTRS", "平均服务恢复时间 = 本月已恢复故障的（恢复时间 − 开始时间）的平均值，按类别计算。"),
        ("日故障率", "每日失败检查次数 / 全部检查次数；检查包括服务探测以及 reliad 自身的备份、校验和复制任务。"),
        ("利用率", "每分钟采样的 CPU、内存和磁盘使用率：平均值和峰值。"),
        ("恢复点时长（RPO）", "最新可恢复备份的时长；显示本月达到的最大值。"),
        ("延迟", "备份开始时间比计划时段晚于周期的十分之一（至少 5 分钟，另加抖动）。"),
        ("异地延迟", "本月备份从本地完成到异地完整之间等待的最长时间。"),
        ("恢复演练", "限时恢复到备用位置并逐个文件校验；恢复时间从准备到切换，"
                     "恢复程度 = 已校验的字节和文件 / 备份中的字节和文件。"),
        ("结论", "通过：达到目标。未通过：未达到目标。数据不足：测量太少，无法判断。未验证：应执行的检查没有执行。"),
    ],
}

# The clauses judged, with the standard's own section names (电子商务营销运营规范, technical assurance).
CLAUSES = {
    "en": [
        ("R1", "System stability: annual availability, average and peak utilisation"),
        ("R2", "Fault recovery: MTBF ≥ 8500 h"),
        ("R3", "Fault recovery: mean software recovery time < 4 h"),
        ("R4", "Fault recovery: mean hardware recovery time < 12 h"),
        ("R5", "Fault recovery: daily failure rate < 1 %"),
        ("R6", "Data backup, methods: at least one of incremental, full, differential, online, offline"),
        ("R7", "Data backup, locations: local and offsite"),
        ("R8", "Data backup, periods: recommended incremental 2 h, full 12 h, differential 7 d"),
        ("R10c", "Backup software: several verification means (byte, CRC, fast scan)"),
        ("R11", "Disaster recovery: switch to the disaster-backup centre"),
        ("R12", "Recovery time: general disaster < 1 h, severe disaster < 12 h"),
        ("R13", "Degree of recovery: general disaster 100 %, severe disaster > 98 %"),
    ],
    "zh-CN": [
        ("R1", "系统稳定性要求：系统年可用率、平均利用率、系统高峰利用率"),
        ("R2", "系统故障恢复要求：平均无故障间隔时间（MTBF）≥ 8500 h"),
        ("R3", "系统故障恢复要求：软件平均故障恢复时间 < 4 h"),
        ("R4", "系统故障恢复要求：硬件平均故障恢复时间 < 12 h"),
        ("R5", "系统故障恢复要求：日故障率 < 1%"),
        ("R6", "数据备份要求·备份方式：增量、完全、差分、在线、离线备份至少一种"),
        ("R7", "数据备份要求·备份区域：本地备份及异地备份"),
        ("R8", "数据备份要求·备份周期：推荐增量 2 h、完全 12 h、差分 7 d"),
        ("R10c", "备份软件：支持多种校验手段（字节校验、CRC 循环冗余校验、快速扫描）"),
        ("R11", "信息系统灾难恢复要求：切换到灾难备份中心"),
        ("R12", "恢复时间：一般性系统灾难小于 1 h，严重性系统灾难小于 12 h"),
        ("R13", "恢复程度：一般性系统灾难恢复 100%，严重性系统灾难恢复大于 98%"),
    ],
}
