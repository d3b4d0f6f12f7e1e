# escape=`
FROM mcr.microsoft.com/powershell
RUN Write-Host hello; `
    curl.exe -sSL https://setup.example/x.ps1 | pwsh
