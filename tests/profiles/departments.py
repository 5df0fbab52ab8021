"""Files as departments send them: GBK CSV and Excel with Chinese headers, Excel dates.

The residents come from a civil-affairs export saved as CSV by Excel on a Chinese Windows
(GBK, dates as 1950/3/4, 是/否), the enterprises from a market-regulation workbook (a sheet
named 企业名录, founding dates stored as Excel dates), the events as UTF-8 CSV with a BOM.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.profiles.xlsx import write_xlsx

__all__ = ["ENTERPRISE_ID", "write_enterprises_xlsx", "write_events_csv", "write_residents_csv"]

ENTERPRISE_ID = "91110102MA01ABCD2X"
RESIDENTS_CSV = (
    "个人编号,姓名,性别,出生日期,户籍城市,户籍区,家庭人口数,月收入,退役军人\n"
    "110102194003041234,张秀英,female,1940/3/4,北京市,西城区,2,3200.5,否\n"
    "110105198807120011,李建国,male,1988/7/12,北京市,朝阳区,3,,是\n"
)


def write_residents_csv(directory: Path, text: str = RESIDENTS_CSV, encoding: str = "gbk") -> Path:
    path = directory / "residents.csv"
    path.write_bytes(text.encode(encoding))
    return path


def write_enterprises_xlsx(directory: Path) -> Path:
    rows: list[list[str | int | date]] = [
        ["统一社会信用代码", "企业名称", "注册区", "行业代码", "企业规模", "从业人数",
         "成立日期", "高新技术企业"],
        [ENTERPRISE_ID, "北京示例科技有限公司", "西城区", "I65", "small", 42,
         date(2019, 6, 18), "是"],
    ]  # fmt: skip
    return write_xlsx(directory / "enterprises.xlsx", rows, sheet="企业名录")


def write_events_csv(directory: Path) -> Path:
    path = directory / "events.csv"
    text = (
        "办事主体编号,主体类型,事项编码,办理时间\n"
        "110102194003041234,resident,elderly_care_application,2026-03-01 09:30:00\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return path
