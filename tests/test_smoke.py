async def test_index_lists_the_venue(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert "Test Bistro" in await response.get_data(as_text=True)
