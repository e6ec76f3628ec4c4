from tasks_api.executions.worker import main

main()
