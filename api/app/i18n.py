"""The console's words: Chinese by default, English on request (``?lang=en``, kept in a cookie).

>>> words("en")["offers"], words("zh")["offers"], words("fr")["offers"]
('Your offers', '我的政策', '我的政策')
"""

from __future__ import annotations

from typing import Final

__all__ = ["LANGUAGES", "words"]

LANGUAGES: Final = ("zh", "en")

_WORDS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "title": "直达 · 政策服务",
        "login": "登录",
        "login_failed": "用户名或密码错误。",
        "logout": "退出",
        "username": "用户名",
        "password": "密码",
        "offers": "我的政策",
        "no_offers": "暂无匹配的政策。",
        "eligible": "符合条件",
        "maybe": "可能符合（信息不全）",
        "benefit": "金额",
        "why": "为什么看到这条？",
        "clause_true": "满足",
        "clause_false": "不满足",
        "clause_unknown": "未知（缺少信息）",
        "not_eligible": "不符合条件",
        "back": "返回",
        "unknown_fields": "缺少的信息",
        "grants": "免申即享",
        "no_grants": "暂无免申即享记录。",
        "object_until": "可提出异议至",
        "inbox": "消息中心",
        "no_messages": "暂无消息。",
        "unread": "未读",
        "preferences": "接收方式",
        "sms_off": "不再接收短信",
        "save": "保存",
        "saved": "已保存。",
        "policies": "政策目录",
        "policy_title": "名称",
        "department": "部门",
        "mode": "方式",
        "validate": "校验草稿",
        "validate_hint": "粘贴政策 YAML，输入时自动校验，错误显示行号和列号。",
        "valid": "校验通过",
        "role": "角色",
        "switch": "English",
    },
    "en": {
        "title": "Zhida · policy services",
        "login": "Log in",
        "login_failed": "Wrong username or password.",
        "logout": "Log out",
        "username": "Username",
        "password": "Password",
        "offers": "Your offers",
        "no_offers": "No matching policies yet.",
        "eligible": "eligible",
        "maybe": "maybe (some information is missing)",
        "benefit": "amount",
        "why": "Why am I seeing this?",
        "clause_true": "met",
        "clause_false": "not met",
        "clause_unknown": "unknown (information missing)",
        "not_eligible": "not eligible",
        "back": "Back",
        "unknown_fields": "Missing information",
        "grants": "Automatic grants",
        "no_grants": "No automatic grants.",
        "object_until": "object until",
        "inbox": "Messages",
        "no_messages": "No messages.",
        "unread": "unread",
        "preferences": "How to reach you",
        "sms_off": "No more SMS",
        "save": "Save",
        "saved": "Saved.",
        "policies": "Policy catalog",
        "policy_title": "Title",
        "department": "Department",
        "mode": "Mode",
        "validate": "Validate a draft",
        "validate_hint": "Paste a policy YAML: checked as you type, errors by line and column.",
        "valid": "Valid",
        "role": "Role",
        "switch": "中文",
    },
}


def words(lang: str) -> dict[str, str]:
    return _WORDS.get(lang, _WORDS["zh"])
