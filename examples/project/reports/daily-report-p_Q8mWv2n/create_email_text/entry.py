def handler(pd: "pipedream"):
    summary = pd.steps["summarize"]["$return_value"]
    when = pd.steps["trigger"]["event"]["timezone_utc"]["iso8601"]["date"]
    return {"email": f"{summary['orders']} orders on {when}"}
