"""Writes the mixed mailbox: NNN-*.eml and labels.json, mail that arrives beside the 2023 week.

Run from anywhere: ``.venv/bin/python tests/data/mixed/make_corpus.py``. It uses the
labelled corpus's mail clients, documents and units (tests/data/labelled/make_corpus.py),
so the same units write the same way; the output is deterministic. Written by the
mailroom team for mailroom's own evaluation; every person, address and number is invented.

The mailbox of the week also gets the units' other business — work plans, summaries,
typical cases, photos and videos of other matters, using the kind words of the week —,
their questions and acknowledgements, replies, and the material of a second campaign
running at the same time (tests/data/notices/notice-2023-skills-month.md, opened with
the code ``2023-skills-month``). See README.md.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "labelled", HERE.parent / "labelled" / "make_corpus.py"
)
lab = importlib.util.module_from_spec(_spec)
sys.modules["labelled"] = lab
_spec.loader.exec_module(lab)
lab.MEDIA = HERE / "_media"  # clips of our own: a clip of the labelled corpus would be a duplicate
lab.VIDEO_SOURCES.update(
    {
        "mandelbrot": "mandelbrot=size=160x120:rate=15",
        "life": "life=size=160x120:rate=15:mold=10",
        "cellauto": "cellauto=size=160x120:rate=15",
    }
)
Att, Mail, t, doc, ph, docx = lab.Att, lab.Mail, lab.t, lab.doc, lab.ph, lab.docx

WEEK, MONTH = "2023-vocational-week", "2023-skills-month"
NOTICE_SUBJECT = lab.NOTICE_SUBJECT
NOTICE_ID = "<5f1e2d3c.1a2b.187b2c3d4e5.Coremail.zcc1.sjyt@ln.gov.cn>"  # the notice, as sent


@dataclass
class Case:
    """One message and what it is: its campaign (None: 其他来件), its items' kinds."""

    mail: Mail
    campaign: str | None
    items: dict[str, str | None] = field(default_factory=dict)
    inquiry: bool = False
    why: str = ""
    waits: bool = False  # its campaign waits for a person: no late or early until then


def memo(title: str, org: str, body: str) -> list[str]:
    """Returns the paragraphs of an ordinary office document about another matter."""
    return [
        title,
        f"{org}高度重视此项工作，按照上级部门要求，结合本地实际，{body}",
        "一、基本情况。全市（校）共有相关单位二十余所，在校生三万余人，整体运行平稳。",
        "二、主要做法。一是加强组织领导，二是完善制度建设，三是强化督导检查。",
        "三、存在问题。部分单位工作进展不平衡，经费保障和师资配备仍需加强。",
        "四、下一步打算。继续抓好落实，确保各项任务按期完成。",
    ]


def other_business() -> list[Case]:
    """Other matters of the same units, hard ones first: the week's kind words, its events."""
    cases: list[Case] = []

    def add(slug, unit, client, name, addr, subject, text, when, atts, why, items=None):
        mail = Mail(slug, unit, client, name, addr, subject, text, when, atts, note=why)
        kinds = {a.filename: None for a in atts} if items is None else items
        cases.append(Case(mail, None, kinds, why=why))

    r = t(5, 16, 9, 12, 3)
    add(
        "dalian-skills-contest-winners",
        "dalian",
        "outlook",
        "张丽",
        "zhangli@dl.edu.example.cn",
        "【大连市教育局】关于报送2023年职业院校技能大赛获奖学生名单的函",
        "省厅职成处：\n\n现将我市2023年职业院校技能大赛获奖学生名单报送，请审核。\n\n张丽\n",
        r,
        [
            Att(
                "技能大赛获奖学生名单.xlsx",
                lab.make_xlsx(
                    [
                        ["序号", "姓名", "学校", "项目", "奖项"],
                        ["1", "李明", "大连市职业技术教育培训中心", "数控车", "一等奖"],
                    ],
                    r,
                ),
                "other",
            )
        ],
        "the issue's example: 技能大赛 is one of the week's events, but 获奖学生名单 is another matter",
    )
    r = t(5, 24, 15, 40, 11)
    add(
        "syvtc-enrolment-expansion-summary",
        "syvtc",
        "163",
        "高洁",
        "gaojie_syvtc@163.com",
        "沈阳职业技术学院2023年高职扩招专项工作总结",
        "韩老师：\n附件是我院高职扩招专项工作总结，请审阅。\n\n沈阳职业技术学院 教务处 高洁\n",
        r,
        [
            doc(
                "沈阳职业技术学院2023年高职扩招专项工作总结.docx",
                "other",
                memo(
                    "沈阳职业技术学院2023年高职扩招专项工作总结",
                    "我院",
                    "扎实推进高职扩招专项工作。",
                ),
                r,
            )
        ],
        "the issue's example: 工作总结 during the week, of another matter (not the week's summary)",
    )
    r = t(5, 18, 10, 5, 40)
    add(
        "jinzhou-enrolment-plan-request",
        "jinzhou",
        "163",
        "王芳",
        "wf19880612@163.com",
        "锦州市关于中职学校招生计划的请示",
        "省厅职成处：\n附件为我市关于中职学校招生计划的请示，请批示。\n锦州市教育局 王芳\n",
        r,
        [
            doc(
                "锦州市关于中职学校招生计划的请示.docx",
                "other",
                memo("锦州市关于中职学校招生计划的请示", "我市", "拟定2023年中职学校招生计划。"),
                r,
            )
        ],
        "the issue's example: a request about enrolment sent in the week",
    )
    r = t(5, 6, 14, 20, 5)
    add(
        "shenyang-enrolment-work-plan",
        "shenyang",
        "163",
        "王磊",
        "syjyj_zcc@163.com",
        "沈阳市2023年中等职业教育招生工作方案",
        "韩老师，您好！\n附件是我市中职招生工作方案，请审阅。\n王磊\n",
        r,
        [
            doc(
                "招生工作方案.docx",
                "other",
                memo(
                    "沈阳市2023年中等职业教育招生工作方案", "我市", "制定本年度中职招生工作方案。"
                ),
                r,
            )
        ],
        "工作方案 before the plan deadline, of the enrolment, from a known address",
    )
    r = t(5, 19, 9, 30, 0)
    add(
        "dlvtc-double-high-summary",
        "dlvtc",
        "163",
        "陈晨",
        "chenchen@dlvtc.edu.example.cn",
        "大连职业技术学院“双高计划”建设年度工作总结",
        "省厅职成处：\n报送我院双高计划建设年度工作总结。\n陈晨\n",
        r,
        [
            doc(
                "双高计划建设年度工作总结.docx",
                "other",
                memo("大连职业技术学院“双高计划”建设年度工作总结", "我院", "推进双高计划建设。"),
                r,
            )
        ],
        "工作总结 of the 双高计划 from a college domain during the week",
    )
    r = t(5, 22, 11, 2, 36)
    add(
        "anshan-quality-report",
        "anshan",
        "126",
        "李红",
        "asjyjzcc@126.com",
        "鞍山市职业教育质量年度报告（2023）",
        "韩老师：\n附件为我市职业教育质量年度报告。\n李红\n",
        r,
        [
            Att(
                "鞍山市职业教育质量年度报告.pdf",
                lab.make_pdf(
                    [
                        "鞍山市职业教育质量年度报告（2023）",
                        "一、基本情况",
                        "二、学生发展",
                        "三、教学改革",
                    ],
                    "质量年度报告",
                    r,
                ),
                "other",
            )
        ],
        "an annual report (报告 is no kind of the week) during the week",
    )
    r = t(5, 15, 16, 44, 20)
    add(
        "lnvc-teachers-contest-plan",
        "lnvc",
        "outlook",
        "赵磊",
        "zhaolei@lnvc.edu.example.cn",
        "辽宁职业学院教师技能大赛工作方案",
        "韩老师：\n附件为我院教师技能大赛工作方案。\n赵磊\n",
        r,
        [
            doc(
                "教师技能大赛工作方案.docx",
                "other",
                memo("辽宁职业学院教师技能大赛工作方案", "我院", "组织开展教师技能大赛。"),
                r,
            )
        ],
        "工作方案 of a teachers' contest: the week's event word 技能大赛 and its kind word 方案",
    )
    r = t(5, 26, 9, 40, 17)
    add(
        "fushun-student-aid-summary",
        "fushun",
        "163",
        "高峰",
        "gaofeng_fs@163.com",
        "抚顺市2023年职业院校学生资助工作总结",
        "韩老师：\n报送我市学生资助工作总结。\n抚顺市教育局职成科 高峰\n",
        r,
        [
            doc(
                "学生资助工作总结.docx",
                "other",
                memo("抚顺市2023年职业院校学生资助工作总结", "我市", "落实国家资助政策。"),
                r,
            )
        ],
        "工作总结 of student aid, the day after the week",
    )
    r = t(5, 10, 10, 10, 10)
    add(
        "panjin-publicity-week-notice",
        "panjin",
        "126",
        "张伟",
        "zhangwei_0427@126.com",
        "盘锦市关于开展职业教育宣传周活动的通知",
        "韩老师：\n转发我市开展宣传周活动的通知，供参考。\n盘锦市教育局职成科 张伟\n",
        r,
        [
            doc(
                "宣传周活动通知.docx",
                "other",
                memo("盘锦市关于开展职业教育宣传周活动的通知", "我市", "开展宣传周活动。"),
                r,
            )
        ],
        "a city's own 宣传周 notice: a different event, not the province's week",
    )
    r = t(5, 17, 14, 8, 0)
    add(
        "benxi-programme-filing",
        "benxi",
        "outlook",
        "赵强",
        "zhaoqiang@bx.edu.example.cn",
        "本溪市中职学校专业设置备案材料",
        "省厅职成处：\n附件为专业设置备案材料。\n赵强\n",
        r,
        [
            Att(
                "专业设置备案表.xlsx",
                lab.make_xlsx(
                    [["学校", "专业", "代码"], ["本溪市机电工程学校", "数控技术应用", "660103"]], r
                ),
                "other",
            )
        ],
        "专业设置备案 in the week",
    )
    r = t(5, 23, 8, 55, 42)
    add(
        "dandong-teacher-training-plan",
        "dandong",
        "thunderbird_gbk",
        "小赵",
        "xiaozhao2023@163.com",
        "丹东市2023年中职学校教师培训工作方案",
        "您好，附件是培训方案。\n丹东市教育局 小赵\n",
        r,
        [
            doc(
                "丹东市中职学校教师培训工作方案.docx",
                "other",
                memo("丹东市2023年中职学校教师培训工作方案", "我市", "开展中职教师全员培训。"),
                r,
            )
        ],
        "工作方案 of teacher training; RFC 2231 GBK file name like the unit's week mail",
    )
    r = t(6, 2, 10, 20, 30)
    add(
        "tieling-statistics",
        "tieling",
        "qq",
        "铁岭市教育局 李明",
        "liming7788@qq.com",
        "铁岭市职业教育统计报表（2022学年）",
        "请查收。\n",
        r,
        [
            Att(
                "职业教育统计报表.xlsx",
                lab.make_xlsx([["指标", "数值"], ["在校生", "12000"]], r),
                "other",
            )
        ],
        "a statistics return",
    )
    r = t(5, 25, 13, 14, 15)
    add(
        "chaoyang-apprenticeship-application",
        "chaoyang",
        "163",
        "刘畅",
        "liuchang@cy.edu.example.cn",
        "朝阳市关于申报省级现代学徒制试点的函",
        "省厅职成处：\n现将我市现代学徒制试点申报材料报送。\n刘畅\n",
        r,
        [
            doc(
                "现代学徒制试点申报书.docx",
                "other",
                memo("朝阳市现代学徒制试点申报书", "我市", "申报省级现代学徒制试点。"),
                r,
            )
        ],
        "an application (申报) during the week, from a city domain",
    )
    r = t(5, 12, 16, 2, 2)
    add(
        "huludao-group-education-summary",
        "huludao",
        "sina",
        "孙悦",
        "hldzjk@sina.com",
        "葫芦岛市职业教育集团化办学工作总结",
        "韩老师：\n附件为集团化办学工作总结。\n孙悦\n",
        r,
        [
            doc(
                "集团化办学工作总结.docx",
                "other",
                memo("葫芦岛市职业教育集团化办学工作总结", "我市", "推进职业教育集团化办学。"),
                r,
            )
        ],
        "工作总结 of another matter from a known address, before the week's summary is due",
    )
    r = t(5, 9, 9, 15, 45)
    add(
        "fuxin-expansion-plan",
        "fuxin",
        "sina",
        "李娜",
        "lina0416@sina.com",
        "阜新市2023年高职扩招工作方案",
        "附件请查收，谢谢！\n",
        r,
        [
            doc(
                "2023年高职扩招工作方案.docx",
                "other",
                memo("阜新市2023年高职扩招工作方案", "我市", "做好高职扩招工作。"),
                r,
            )
        ],
        "工作方案 right after the week's plan deadline: late, if it were the week's",
    )
    r = t(5, 30, 15, 30, 9)
    add(
        "shenfu-development-plan-draft",
        "shenfu",
        "163",
        "孙晓",
        "sunxiao_sf@163.com",
        "沈抚示范区职业教育发展规划（征求意见稿）",
        "韩老师好！\n附件是我区职业教育发展规划征求意见稿，请提出意见。\n沈抚示范区 教育组\n孙晓\n",
        r,
        [
            doc(
                "职业教育发展规划.docx",
                "other",
                memo("沈抚示范区职业教育发展规划（征求意见稿）", "我区", "编制职业教育发展规划。"),
                r,
            )
        ],
        "a development plan draft (规划, not 方案)",
    )
    r = t(5, 19, 17, 20, 0)
    add(
        "syvtc-teaching-award-request",
        "syvtc",
        "163",
        "高洁",
        "gaojie_syvtc@163.com",
        "关于沈阳职业技术学院申报2023年度省级教学成果奖的请示",
        "韩老师：\n请审阅。\n高洁\n",
        r,
        [
            doc(
                "教学成果奖申报请示.docx",
                "other",
                memo("关于申报省级教学成果奖的请示", "我院", "申报省级教学成果奖。"),
                r,
            )
        ],
        "a request about a teaching award",
    )
    r = t(5, 31, 10, 0, 30)
    add(
        "dlvtc-quality-report",
        "dlvtc",
        "163",
        "王宁",
        "wangning@dlvtc.edu.example.cn",
        "大连职业技术学院2022-2023学年质量报告",
        "韩老师：\n附件为我院年度质量报告。\n王宁\n",
        r,
        [
            Att(
                "2022-2023学年质量报告.pdf",
                lab.make_pdf(
                    ["大连职业技术学院2022-2023学年质量报告", "一、学生发展", "二、教学改革"],
                    "质量报告",
                    r,
                ),
                "other",
            )
        ],
        "a college's annual quality report in the summary window",
    )
    r = t(5, 20, 19, 0, 0)
    add(
        "jinzhou-enrolment-brochure",
        "jinzhou",
        "163",
        "王芳",
        "wf19880612@163.com",
        "锦州市中职学校招生简章",
        "韩老师好，附件为招生简章，请查收。\n锦州市教育局 王芳\n",
        r,
        [
            Att(
                "锦州市中职学校招生简章.pdf",
                lab.make_pdf(
                    ["锦州市中职学校2023年招生简章", "一、招生计划", "二、报名方式"], "招生简章", r
                ),
                "other",
            )
        ],
        "招生简章 (not 简报, a manuscript word)",
    )
    r = t(5, 21, 9, 45, 12)
    add(
        "fushun-skills-certification-notice",
        "fushun",
        "163",
        "高峰",
        "gaofeng_fs@163.com",
        "抚顺市关于开展职业技能等级认定工作的通知",
        "韩老师：\n转发我市职业技能等级认定工作通知。\n抚顺市教育局职成科 高峰\n",
        r,
        [
            doc(
                "职业技能等级认定工作通知.docx",
                "other",
                memo("抚顺市关于开展职业技能等级认定工作的通知", "我市", "开展职业技能等级认定。"),
                r,
            )
        ],
        "a skills certification notice",
    )
    r = t(5, 13, 11, 11, 11)
    add(
        "anshan-teacher-programme-form",
        "anshan",
        "126",
        "李红",
        "asjyjzcc@126.com",
        "鞍山市2023年职业院校教师素质提高计划报名表",
        "韩老师：\n报名表见附件。\n李红\n",
        r,
        [
            Att(
                "教师素质提高计划报名表.xlsx",
                lab.make_xlsx(
                    [["姓名", "学校", "培训项目"], ["王强", "鞍山市职业教育中心", "数控技术"]], r
                ),
                "other",
            )
        ],
        "a registration form",
    )
    r = t(6, 5, 14, 30, 0)
    add(
        "benxi-five-year-plan-review",
        "benxi",
        "outlook",
        "赵强",
        "zhaoqiang@bx.edu.example.cn",
        "本溪市职业教育“十四五”规划中期评估报告",
        "省厅职成处：\n附件为中期评估报告。\n赵强\n",
        r,
        [
            doc(
                "十四五规划中期评估报告.docx",
                "other",
                memo("本溪市职业教育“十四五”规划中期评估报告", "我市", "开展规划中期评估。"),
                r,
            )
        ],
        "a mid-term review after the week",
    )
    r = t(5, 27, 9, 9, 9)
    add(
        "dalian-group-schooling-summary",
        "dalian",
        "outlook",
        "张丽",
        "zhangli@dl.edu.example.cn",
        "大连市职业教育集团化办学工作总结",
        "省厅职成处：\n附件为我市集团化办学工作总结。\n张丽\n",
        r,
        [
            doc(
                "大连市职业教育集团化办学工作总结.docx",
                "other",
                memo("大连市职业教育集团化办学工作总结", "我市", "推进集团化办学。"),
                r,
            )
        ],
        "工作总结 two days after the week: exactly when the week's summaries come",
    )
    r = t(5, 11, 15, 5, 5)
    add(
        "panjin-internship-plan",
        "panjin",
        "126",
        "张伟",
        "zhangwei_0427@126.com",
        "盘锦市中职学校学生实习管理工作方案",
        "韩老师：\n附件为实习管理工作方案。\n盘锦市教育局职成科 张伟\n",
        r,
        [
            doc(
                "学生实习管理工作方案.docx",
                "other",
                memo("盘锦市中职学校学生实习管理工作方案", "我市", "规范学生实习管理。"),
                r,
            )
        ],
        "工作方案 of internships, three days after the week's plan deadline",
    )
    r = t(5, 18, 16, 16, 16)
    add(
        "lntd-training-centre-plan",
        "lntd",
        "163",
        "周宇",
        "zhouyu@lntd.edu.example.cn",
        "辽宁铁道职业技术学院高铁实训中心建设方案",
        "韩老师：\n报送实训中心建设方案。\n周宇\n",
        r,
        [
            doc(
                "高铁实训中心建设方案.docx",
                "other",
                memo("辽宁铁道职业技术学院高铁实训中心建设方案", "我院", "建设高铁综合实训中心。"),
                r,
            )
        ],
        "建设方案 of a training centre during the week",
    )
    r = t(5, 16, 20, 30, 0)
    add(
        "liaoyang-annual-data",
        "liaoyang",
        "qq",
        "周丽",
        "lyzcc2023@qq.com",
        "辽阳市职业院校年报数据",
        "韩老师好，年报数据请查收。\n",
        r,
        [
            Att(
                "职业院校年报数据.xlsx",
                lab.make_xlsx([["学校", "在校生"], ["辽阳市职教中心", "3200"]], r),
                "other",
            )
        ],
        "annual data from a known address during the week",
    )
    r = t(6, 8, 9, 0, 0)
    add(
        "huludao-graduates-employment",
        "huludao",
        "sina",
        "孙悦",
        "hldzjk@sina.com",
        "葫芦岛市中职毕业生就业情况统计",
        "韩老师：\n统计表见附件。\n孙悦\n",
        r,
        [
            Att(
                "毕业生就业情况统计.xlsx",
                lab.make_xlsx([["学校", "就业率"], ["兴城市职教中心", "96%"]], r),
                "other",
            )
        ],
        "employment statistics",
    )
    # No file: a person's mail about another matter (a question, not about any campaign).
    r = t(5, 17, 11, 30, 0)
    add(
        "yingkou-expansion-question",
        "yingkou",
        "qq",
        "刘洋",
        "1834567201@qq.com",
        "咨询高职扩招计划下达时间",
        "省教育厅职成处：\n请问2023年高职扩招计划什么时候下达？我市需提前安排。\n营口市教育局 刘洋\n",
        r,
        [],
        "a question about another matter: 其他来件, not an inquiry of the week",
    )
    return cases


def doubtful() -> list[Case]:
    """Other matters a rule cannot tell from the week: they must wait in triage, never count."""
    cases = []
    r = t(5, 19, 9, 9, 50)
    m = Mail(
        "lncc-double-high-case",
        "lncc",
        "163",
        "宣传部",
        "lnjtzk_xcb@163.com",
        "辽宁省交通高等专科学校“双高计划”建设典型案例",
        "韩老师：\n报送我校双高计划建设典型案例一篇。\n宣传部\n",
        r,
        [
            doc(
                "双高计划建设典型案例.docx",
                "other",
                lab.case_text("校企协同打造交通运输专业群", "我校", "建设高水平专业群。"),
                r,
            )
        ],
        note="typical case of the 双高计划 during the week: a case about something; doubtful",
    )
    cases.append(Case(m, None, {"双高计划建设典型案例.docx": None}, why=m.note))
    r = t(5, 20, 16, 40, 0)
    m = Mail(
        "bhcc-equipment-photos",
        "bhcc",
        "qq",
        "王海",
        "2871456309@qq.com",
        "渤海船舶职业学院实训设备验收照片",
        "韩老师：\n实训设备验收照片请查收。\n渤海船舶职业学院党委宣传部 王海\n",
        r,
        [
            ph("验收1.jpg", "bhcc-eq1", "2023:05:20 15:10:00"),
            ph("验收2.jpg", "bhcc-eq2", "2023:05:20 15:12:00"),
        ],
        note="photos of another matter in the week: photos are a kind of the week; doubtful",
    )
    cases.append(Case(m, None, {"验收1.jpg": None, "验收2.jpg": None}, why=m.note))
    r = t(5, 22, 14, 0, 0)
    m = Mail(
        "lnpc-safety-month-video",
        "lnpc",
        "163",
        "李想",
        "lixiang@lnpc.edu.example.cn",
        "石化职院安全生产月宣传视频",
        "韩老师：\n安全生产月宣传视频一段。\n李想\n",
        r,
        [Att("安全生产月宣传视频.mp4", lab.video("mandelbrot"), "other")],
        note="a video of the safety month in the week: a video is a kind of the week; doubtful",
    )
    cases.append(Case(m, None, {"安全生产月宣传视频.mp4": None}, why=m.note))
    r = t(5, 21, 10, 30, 0)
    m = Mail(
        "shenyang-contest-photos",
        "shenyang",
        "163",
        "赵敏",
        "zhaomin_0521@126.com",
        "沈阳市职业院校技能大赛（中职组）获奖选手照片",
        "韩老师：\n技能大赛获奖选手照片请查收。\n沈阳市教育局职成处 赵敏\n",
        r,
        [ph("获奖选手1.jpg", "sy-contest1", "2023:05:21 09:00:00")],
        note="photos of the city contest: the week's event and its kind; doubtful",
    )
    cases.append(Case(m, None, {"获奖选手1.jpg": None}, why=m.note))
    r = t(5, 24, 10, 0, 0)
    m = Mail(
        "yingkou-enrolment-video",
        "yingkou",
        "qq",
        "刘洋",
        "1834567201@qq.com",
        "营口市中职招生宣传视频",
        "省教育厅职成处：\n招生宣传视频请查收。\n刘洋\n",
        r,
        [Att("中职招生宣传视频.mp4", lab.video("life"), "other")],
        note="an enrolment video in the week; doubtful",
    )
    cases.append(Case(m, None, {"中职招生宣传视频.mp4": None}, why=m.note))
    r = t(5, 18, 8, 30, 0)
    m = Mail(
        "tieling-bare-work-plan",
        "tieling",
        "qq",
        "铁岭市教育局 李明",
        "liming7788@qq.com",
        "工作方案",
        "请查收。\n",
        r,
        [
            doc(
                "工作方案.docx",
                "other",
                memo("关于做好2023年中职学校招生工作的实施方案", "我市", "做好招生工作。"),
                r,
            )
        ],
        note="nothing but 工作方案 in subject and name (the document is about enrolment)",
    )
    cases.append(Case(m, None, {"工作方案.docx": None}, why=m.note))
    return cases


def threads(labelled_ids: dict[str, str], other_ids: dict[str, str]) -> list[Case]:
    """Replies: in a thread of the week's mail (no word of it), in a thread of other business."""
    r = t(5, 19, 15, 0, 0)
    reply = Mail(
        "dalian-reply-in-the-weeks-thread",
        "dalian",
        "qq",
        "陈静",
        "2456781930@qq.com",
        "回复：案例格式已按要求修改",
        "韩老师，案例已按要求修改，请再审阅。\n",
        r,
        [
            doc(
                "典型案例（一）修改稿.docx",
                "case",
                lab.case_text(
                    "校企共建智能制造产业学院（修改稿）", "我市某中等职业学校", "与龙头企业共建。"
                ),
                r,
            )
        ],
        extra_headers=[("In-Reply-To", labelled_ids["005"]), ("References", labelled_ids["005"])],
        note="a reply to the unit's own typical cases of the week: the thread decides",
    )
    r2 = t(5, 17, 9, 0, 0)
    other = Mail(
        "dalian-reply-in-other-thread",
        "dalian",
        "outlook",
        "张丽",
        "zhangli@dl.edu.example.cn",
        "回复：补充",
        "省厅职成处：\n补充一张颁奖照片。\n张丽\n",
        r2,
        [ph("颁奖.jpg", "dl-award", "2023:05:16 16:00:00")],
        extra_headers=[("In-Reply-To", other_ids["dalian-skills-contest-winners"])],
        note="a photo in reply to the contest winners' list: other business, by its thread",
    )
    return [
        Case(reply, WEEK, {"典型案例（一）修改稿.docx": "case"}, why=reply.note),
        Case(other, None, {"颁奖.jpg": None}, why=other.note),
    ]


def inquiries() -> list[Case]:
    """Questions and acknowledgements: the campaign's, not material, 待回复."""
    out = []
    for slug, unit, client, name, addr, subject, text, when, campaign, why in [
        (
            "shenyang-asks-about-seals",
            "shenyang",
            "163",
            "王磊",
            "syjyj_zcc@163.com",
            f"Re: {NOTICE_SUBJECT}",
            "韩老师，请问活动周总结是否需要盖章？\n\n王磊\n",
            t(5, 26, 10, 0, 0),
            WEEK,
            "the issue's example: a question in reply to the notice",
        ),
        (
            "dlvtc-acknowledges",
            "dlvtc",
            "163",
            "陈晨",
            "chenchen@dlvtc.edu.example.cn",
            f"回复：{NOTICE_SUBJECT}",
            "收到，我院将按时报送。\n\n陈晨\n",
            t(4, 25, 9, 0, 0),
            WEEK,
            "an acknowledgement of the notice",
        ),
        (
            "jinzhou-asks-how-many-photos",
            "jinzhou",
            "163",
            "王芳",
            "wf19880612@163.com",
            "活动周照片数量",
            "韩老师：\n请问活动周照片每个单位报送多少张合适？\n锦州市教育局 王芳\n",
            t(5, 15, 8, 0, 0),
            WEEK,
            "a question naming the week in its subject",
        ),
        (
            "dalian-asks-about-roster-format",
            "dalian",
            "outlook",
            "张丽",
            "zhangli@dl.edu.example.cn",
            "宣传月联络员名单格式",
            "省厅职成处：\n请问宣传月联络员名单用什么格式报送？\n张丽\n",
            t(5, 10, 9, 30, 0),
            MONTH,
            "a question about the second campaign",
        ),
    ]:
        mail = Mail(slug, unit, client, name, addr, subject, text, when, [], note=why,
                    is_material=False, flags=["inquiry"],
                    extra_headers=[("In-Reply-To", NOTICE_ID)] if "Re" in subject or "回复" in subject
                    else [])  # fmt: skip
        out.append(Case(mail, campaign, {}, inquiry=True, why=why))
    return out


def second_campaign() -> list[Case]:
    """The 宣传月, open at the same time for the same units, with the same kind words."""
    out = []
    rows = [
        (
            "shenyang-month-summary",
            "shenyang",
            "163",
            "王磊",
            "syjyj_zcc@163.com",
            "【沈阳市教育局】“技能成才 强国有我”主题宣传月工作总结",
            "沈阳市宣传月工作总结.docx",
            "summary",
            t(6, 20, 9, 0, 0),
            "the month's summary from a known address",
        ),
        (
            "dalian-month-stories",
            "dalian",
            "outlook",
            "张丽",
            "zhangli@dl.edu.example.cn",
            "大连市宣传月优秀学生事迹材料",
            "优秀学生事迹材料.docx",
            "story",
            t(5, 24, 10, 0, 0),
            "the month's stories during the week",
        ),
        (
            "jinzhou-month-roster",
            "jinzhou",
            "163",
            "王芳",
            "wf19880612@163.com",
            "宣传月联络员名单（锦州）",
            "宣传月联络员名单.xlsx",
            "roster",
            t(5, 15, 9, 0, 0),
            "the month's roster on the week's second day",
        ),
        (
            "syvtc-month-case",
            "syvtc",
            "163",
            "高洁",
            "gaojie_syvtc@163.com",
            "宣传月典型案例（沈职院）",
            "技能成才典型案例.docx",
            "case",
            t(5, 22, 16, 0, 0),
            "典型案例, a kind of both campaigns, named for the month",
        ),
        (
            "anshan-month-summary",
            "anshan",
            "126",
            "李红",
            "asjyjzcc@126.com",
            "鞍山市宣传月工作总结",
            "宣传月工作总结.docx",
            "summary",
            t(6, 25, 9, 0, 0),
            "工作总结, a kind of both campaigns, named for the month",
        ),
        (
            "dlvtc-month-video",
            "dlvtc",
            "163",
            "王宁",
            "wangning@dlvtc.edu.example.cn",
            "技能成才强国有我 宣传短视频",
            "宣传短视频.mp4",
            "video",
            t(5, 25, 11, 0, 0),
            "a video named by the month's slogan on the week's last day",
        ),
    ]
    for slug, unit, client, name, addr, subject, filename, kind, when, why in rows:
        if filename.endswith(".mp4"):
            att = Att(filename, lab.video("cellauto"), kind)
        elif filename.endswith(".xlsx"):
            att = Att(
                filename,
                lab.make_xlsx([["单位", "联络员", "电话"], [unit, name, "0416-0000000"]], when),
                kind,
            )
        else:
            att = doc(
                filename,
                kind,
                memo(
                    filename.rsplit(".", 1)[0], "我单位", "开展“技能成才 强国有我”主题宣传月活动。"
                ),
                when,
            )
        mail = Mail(
            slug,
            unit,
            client,
            name,
            addr,
            subject,
            f"韩老师：\n{subject}，请查收。\n{name}\n",
            when,
            [att],
            note=why,
        )
        out.append(Case(mail, MONTH, {filename: kind}, why=why))
    r = t(5, 23, 9, 0, 0)
    both = Mail(
        "panjin-week-and-month",
        "panjin",
        "126",
        "张伟",
        "zhangwei_0427@126.com",
        "活动周及宣传月照片",
        "韩老师：\n活动周和宣传月的照片一并报送。\n张伟\n",
        r,
        [ph("活动照片.jpg", "pj-both", "2023:05:23 08:00:00")],
        note="names both open campaigns: a person decides which",
    )
    out.append(Case(both, WEEK, {"活动照片.jpg": "photo"}, why=both.note, waits=True))
    r = t(5, 26, 9, 0, 0)
    zone = Mail(
        "shenfu-month-summary",
        "shenfu",
        "163",
        "孙晓",
        "sunxiao_sf@163.com",
        "沈抚示范区宣传月工作总结",
        "韩老师好！\n宣传月工作总结请查收。\n孙晓\n",
        r,
        [
            doc(
                "宣传月工作总结.docx",
                "summary",
                memo("沈抚示范区宣传月工作总结", "我区", "开展宣传月活动。"),
                r,
            )
        ],
        note="the month addresses 各市教育局 and 各高职院校, not the zone: a person decides",
    )
    out.append(Case(zone, MONTH, {"宣传月工作总结.docx": "summary"}, why=zone.note, waits=True))
    return out


def message_ids(folder: Path) -> dict[str, str]:
    """Returns {file number: Message-ID} of the labelled corpus's messages."""
    out = {}
    for path in sorted(folder.glob("[0-9][0-9][0-9]-*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=default_policy)
        out[path.name[:3]] = str(msg["Message-ID"])
    return out


MONTH_END = t(6, 15, 23, 59, 59).date()


def label(case: Case) -> dict:
    m = case.mail
    flags = set(m.flags)
    # The month's summary and cases are due after it (宣传月结束后15日内): sent before its end,
    # they are early, as the week's summary is.
    if case.campaign == MONTH and {"summary", "case"} & set(case.items.values()) and not case.waits:
        if m.received.date() <= MONTH_END:
            flags.add("early")
    return {
        "unit": m.unit,
        "is_material": not case.inquiry,
        "flags": sorted(flags),
        "forwarded_by": None,
        "items": case.items,
        "decorative": [],
        "received": m.received.isoformat(),
        "campaign": case.campaign,
        "note": case.why,
    }


def main() -> None:
    cases = other_business() + doubtful()
    for n, case in enumerate(cases, 1):
        case.mail.name = f"{n:03d}-{case.mail.slug}.eml"
    built = {c.mail.slug: lab.build(c.mail) for c in cases}
    other_ids = {
        slug: str(message_from_bytes(raw, policy=default_policy)["Message-ID"])
        for slug, raw in built.items()
    }
    more = threads(message_ids(HERE.parent / "labelled"), other_ids)
    more += inquiries() + second_campaign()
    for n, case in enumerate(more, len(cases) + 1):
        case.mail.name = f"{n:03d}-{case.mail.slug}.eml"
    cases += more
    for old in HERE.glob("[0-9][0-9][0-9]-*.eml"):
        old.unlink()
    labels = {}
    for case in cases:
        (HERE / case.mail.name).write_bytes(built.get(case.mail.slug) or lab.build(case.mail))
        labels[case.mail.name] = label(case)
    (HERE / "labels.json").write_text(
        json.dumps({"version": 1, "messages": labels}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    other = sum(1 for c in cases if c.campaign is None)
    size = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    assert other >= 30 and size < 1.5 * 1024 * 1024, (other, size)
    print(
        f"{len(cases)} messages: {other} of no campaign, "  # noqa: T201 - a generator
        f"{sum(c.inquiry for c in cases)} inquiries, "
        f"{sum(c.campaign == MONTH for c in cases)} of the second campaign; {size // 1024} KiB"
    )


if __name__ == "__main__":
    main()
