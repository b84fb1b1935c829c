async def test_index_lists_the_venue(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert "Test Bistro" in await response.get_data(as_text=True)


async def test_a_secret_key_of_digits_alone_from_the_environment_still_signs_sessions(monkeypatch, tmp_path):
    """SLOTCAST_* values are read as JSON: '123456' would be an int, and the session and form signing would fail."""
    from app import create_app

    monkeypatch.setenv("SLOTCAST_SECRET_KEY", "1234567890123456")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/k.db", "DEMO": True})
    async with app.test_app():
        response = await app.test_client().get("/")
        assert response.status_code == 200 and app.config["SECRET_KEY"] == "1234567890123456"
