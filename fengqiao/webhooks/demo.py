"""The demo district's example subscriber: paused, pointing at a receiver on this machine.

To try it: run ``manage.py webhook_receiver`` (prints verified events), set
``FENGQIAO_WEBHOOK_ALLOW_LOOPBACK=1`` for the web and worker processes, rotate the
secret on the subscriber's page, pass it to the receiver, and resume.
"""

from __future__ import annotations

from django.db import transaction

from fengqiao.accounts.models import User
from fengqiao.core import crypto
from fengqiao.regions.models import Region

from . import signing
from .delivery import SECRET_CONTEXT
from .models import EventType, Subscription
from .relay import latest_event_id

DEMO_NAME = "示例：区大数据平台（本机接收程序）"
DEMO_URL = "http://127.0.0.1:8765/fengqiao-webhook"


@transaction.atomic
def load_demo_subscription(district_code: str = "440399") -> bool:
    """Create the example subscriber once; True if created."""
    if Subscription.objects.filter(name=DEMO_NAME).exists():
        return False
    district = Region.objects.filter(path=district_code, valid_to__isnull=True).first()
    if district is None:
        return False
    from django.utils import timezone

    Subscription.objects.create(
        name=DEMO_NAME,
        url=DEMO_URL,
        description=(
            "演示用：运行 manage.py webhook_receiver 并设置 FENGQIAO_WEBHOOK_ALLOW_LOOPBACK=1，"
            "轮换密钥后把新密钥交给接收程序，再恢复推送。"
        ),
        event_types=[t.value for t in EventType],
        region=district,
        region_path=district.path,
        secret=crypto.encrypt(signing.new_secret(), context=SECRET_CONTEXT),
        is_active=False,
        paused_at=timezone.now(),
        pause_reason="演示订阅，默认暂停",
        start_event_id=latest_event_id(),
        created_by=User.objects.filter(username="district_centre").first(),
    )
    return True
