from django.test import override_settings


def test_a_viewer_who_may_not_write_gets_the_403_page(cast, login):
    response = login(cast.viewer).post(
        "/settings/members/", {"email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 403
    assert b"Not allowed" in response.content
    assert b"Team A" in response.content


@override_settings(DEBUG=False)
def test_an_unknown_page_gets_the_404_page(cast, login):
    response = login(cast.editor).get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_the_favicon_is_served_without_a_login(client, db):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0].endswith("favicon.svg")
