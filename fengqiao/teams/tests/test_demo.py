from fengqiao.teams.models import PatrolRecord, TeamMember, TeamRole


def test_demo_teams_have_members_and_patrols(tdst, patrol_team, users):
    assert TeamMember.objects.filter(team=tdst, role=TeamRole.LEADER, user__isnull=True).exists()
    assert TeamMember.objects.filter(team=tdst, role=TeamRole.DEPUTY, user=users["mediator_1"]).exists()
    assert TeamMember.objects.filter(team=patrol_team).count() >= 5
    assert PatrolRecord.objects.filter(team=patrol_team).count() == 6
    assert users["mediator_1"].unit_id == tdst.pk
    # personal data stored encrypted: the loaded value prints as the mask
    member = TeamMember.objects.filter(team=tdst)[0]
    assert "*" in str(member.name) or len(str(member.name)) <= 2
    assert member.phone_index
