from deployments.api.app import main

main()
